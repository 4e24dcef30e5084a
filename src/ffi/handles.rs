//! The registries of live handles: what a `papo_client *` or
//! `papo_server *` really is.
//!
//! A handle's value is an id, never an address: ids come from one counter
//! for both kinds, start at 1 and are never reused, and the library never
//! dereferences them (as nng's `nng_socket` ids). Each registry maps the
//! ids of its kind to the live objects, so that every call checks its
//! handle at entry: NULL is `PAPO_ERR_NULL_ARGUMENT`; an id that is not
//! live in this registry (freed by `Desconecta_*`, a handle of the other
//! kind, a made-up value) is `PAPO_ERR_CLOSED`; a handle created by another
//! process (inherited across `fork()`) is `PAPO_ERR_FORKED`. Nothing is
//! ever read through a stale pointer, so use after free and double free
//! from C are error codes, not crashes.
//!
//! A call holds a [`Guard`] (a reference count on the object, not the
//! registry's lock) while it runs. `Desconecta_*` removes the id first (new
//! calls get `PAPO_ERR_CLOSED`), ends the connection or the server (which
//! wakes every wait in progress), then [`Registry::wait_unshared`] waits
//! until every call in progress has returned, and frees the object on its
//! own thread.
//!
//! Fork: the child of a `fork()` has only the forking thread; the library's
//! threads, and any lock they held, did not come along. Each entry
//! remembers the pid of the process that created it, and the current pid
//! is cached in an atomic that a `pthread_atfork` child handler refreshes,
//! so the check costs no system call. The same handlers make the
//! registries' own locks consistent in the child: `prepare` takes them all,
//! `parent` and `child` release them, so no fork happens while another
//! thread holds one. The locks are the standard library's (futex-based,
//! with no global state to inherit half-changed), not parking_lot's, whose
//! parked threads live in a global table another thread may have held at
//! fork time.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, PoisonError, RwLock, RwLockWriteGuard};

use super::{FfiError, FfiResult, PAPO_ERR_CLOSED, PAPO_ERR_FORKED, PAPO_ERR_NULL_ARGUMENT};

/// The next handle id (both kinds). 0 is never handed out: it is NULL.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// This process's pid, cached (see the module documentation). 0 until the
/// first registry use.
static PID: AtomicU32 = AtomicU32::new(0);

static ATFORK: Once = Once::new();

fn getpid() -> u32 {
    // SAFETY: getpid has no preconditions and cannot fail.
    let pid = unsafe { libc::getpid() };
    u32::try_from(pid).unwrap_or(0)
}

/// The current pid, registering the fork handlers on first use.
fn current_pid() -> u32 {
    ATFORK.call_once(|| {
        PID.store(getpid(), Ordering::SeqCst);
        // SAFETY: the handlers are extern "C" functions that never unwind.
        // A failure (ENOMEM) leaves fork detection to the pid stored above,
        // which a child would then not refresh: its calls on its own
        // handles would wrongly be FORKED, never unsafely allowed.
        unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork_parent),
                Some(after_fork_child),
            );
        }
    });
    PID.load(Ordering::SeqCst)
}

/// One registry per handle kind.
pub(crate) struct Registry<T> {
    /// "client" or "server", for the error details.
    kind: &'static str,
    /// Whether this registry is in [`FORK_LOCKED`] yet.
    listed: Once,
    map: RwLock<BTreeMap<u64, Entry<T>>>,
    /// Signalled each time a [`Guard`] is dropped, for
    /// [`Registry::wait_unshared`].
    released: Mutex<()>,
    cond: Condvar,
}

struct Entry<T> {
    pid: u32,
    value: Arc<T>,
}

/// A call's hold on a live object.
pub(crate) struct Guard<T: 'static> {
    registry: &'static Registry<T>,
    value: ManuallyDrop<Arc<T>>,
}

impl<T> std::ops::Deref for Guard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> Drop for Guard<T> {
    fn drop(&mut self) {
        // SAFETY: dropped exactly once, here, and never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.value) };
        // Under the lock, so that a waiter that saw the old count is
        // already waiting and gets the notification.
        let _lock = self.registry.lock_released();
        self.registry.cond.notify_all();
    }
}

impl<T> Registry<T> {
    pub(crate) const fn new(kind: &'static str) -> Registry<T> {
        Registry {
            kind,
            listed: Once::new(),
            map: RwLock::new(BTreeMap::new()),
            released: Mutex::new(()),
            cond: Condvar::new(),
        }
    }

    fn lock_released(&self) -> MutexGuard<'_, ()> {
        self.released.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<u64, Entry<T>>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Send + Sync + 'static> Registry<T> {
    /// Registers `value` and returns its new handle id.
    pub(crate) fn insert(&'static self, value: T) -> u64 {
        let pid = current_pid();
        self.listed.call_once(|| {
            FORK_LOCKED
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(self);
        });
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            pid,
            value: Arc::new(value),
        };
        self.write().insert(id, entry);
        id
    }

    /// The object behind handle `p`, held for the duration of a call.
    /// `name` is the argument's name, for the details.
    pub(crate) fn get<P>(&'static self, p: *const P, name: &str) -> FfiResult<Guard<T>> {
        let id = self.id(p, name)?;
        let me = current_pid();
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        match map.get(&id) {
            None => Err(self.not_live(id)),
            Some(e) if e.pid != me => Err(self.forked(id)),
            Some(e) => Ok(Guard {
                registry: self,
                value: ManuallyDrop::new(Arc::clone(&e.value)),
            }),
        }
    }

    /// Removes handle `p` so that no new call finds it, and returns the
    /// object; free it with [`Registry::wait_unshared`]. In a forked child,
    /// a handle of the parent stays where it is (the child must not touch
    /// it: its threads are gone) and this is `PAPO_ERR_FORKED`.
    pub(crate) fn remove<P>(&self, p: *const P, name: &str) -> FfiResult<Arc<T>> {
        let id = self.id(p, name)?;
        let me = current_pid();
        let mut map = self.write();
        match map.get(&id) {
            None => Err(self.not_live(id)),
            Some(e) if e.pid != me => Err(self.forked(id)),
            Some(_) => match map.remove(&id) {
                Some(e) => Ok(e.value),
                None => Err(self.not_live(id)),
            },
        }
    }

    /// Waits until no call holds `value` any more (every [`Guard`] of it
    /// dropped), then drops it here, on the caller's thread.
    pub(crate) fn wait_unshared(&self, value: Arc<T>) {
        let mut lock = self.lock_released();
        while Arc::strong_count(&value) > 1 {
            lock = self.cond.wait(lock).unwrap_or_else(PoisonError::into_inner);
        }
        drop(lock);
        drop(value);
    }

    fn id<P>(&self, p: *const P, name: &str) -> FfiResult<u64> {
        if p.is_null() {
            return Err(FfiError::new(
                PAPO_ERR_NULL_ARGUMENT,
                format!("argument {name} is NULL"),
            ));
        }
        Ok(p as usize as u64)
    }

    fn not_live(&self, id: u64) -> FfiError {
        FfiError::new(
            PAPO_ERR_CLOSED,
            format!(
                "{:#x} is not a live {} handle (already freed by {}(), or not a {} handle at all)",
                id,
                self.kind,
                match self.kind {
                    "client" => "Desconecta_cliente",
                    "server" => "Desconecta_Servidor",
                    _ => "papo_discovery_free",
                },
                self.kind
            ),
        )
    }

    fn forked(&self, id: u64) -> FfiError {
        FfiError::new(
            PAPO_ERR_FORKED,
            format!(
                "the {} handle {:#x} belongs to the parent process (inherited across fork()); a forked child may not use it",
                self.kind, id
            ),
        )
    }
}

/// The handle value of id `id`.
pub(crate) fn handle_ptr<P>(id: u64) -> *mut P {
    id as usize as *mut P
}

// ---- fork handlers ----------------------------------------------------------

/// What the fork handlers lock: every registry that holds or held a
/// handle (each adds itself on its first insert).
trait ForkLocks: Sync {
    /// Takes the registry's locks; they are released when the returned
    /// guards are dropped.
    fn lock_for_fork(&'static self) -> Vec<Box<dyn std::any::Any>>;
}

impl<T: Send + Sync + 'static> ForkLocks for Registry<T> {
    fn lock_for_fork(&'static self) -> Vec<Box<dyn std::any::Any>> {
        vec![Box::new(self.write()), Box::new(self.lock_released())]
    }
}

static FORK_LOCKED: Mutex<Vec<&'static dyn ForkLocks>> = Mutex::new(Vec::new());

/// The registries' locks (and the list's own), held across a fork by the
/// forking thread, in the order they were taken.
struct Held {
    guards: Vec<Box<dyn std::any::Any>>,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// Takes every registry's locks, for the fork handlers.
fn lock_all() -> Held {
    let list = FORK_LOCKED.lock().unwrap_or_else(PoisonError::into_inner);
    let registries: Vec<&'static dyn ForkLocks> = list.clone();
    let mut guards: Vec<Box<dyn std::any::Any>> = vec![Box::new(list)];
    for r in registries {
        guards.extend(r.lock_for_fork());
    }
    Held { guards }
}

extern "C" fn before_fork() {
    let _ = std::panic::catch_unwind(|| {
        let held = lock_all();
        let _ = HELD.try_with(|h| {
            if let Ok(mut h) = h.try_borrow_mut() {
                *h = Some(held);
            }
        });
    });
}

fn release_all() {
    let _ = HELD.try_with(|h| {
        if let Ok(mut h) = h.try_borrow_mut() {
            // Dropping the guards in reverse order of taking them.
            if let Some(mut held) = h.take() {
                while held.guards.pop().is_some() {}
            }
        }
    });
}

extern "C" fn after_fork_parent() {
    let _ = std::panic::catch_unwind(release_all);
}

extern "C" fn after_fork_child() {
    let _ = std::panic::catch_unwind(|| {
        PID.store(getpid(), Ordering::SeqCst);
        release_all();
    });
}
