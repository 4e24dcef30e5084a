//! Options objects (tox_options, nng's setters) in place of 0.1's config
//! structs: `papo_client_options_*` and `papo_server_options_*`. An options
//! object is a plain heap object owned by the caller (not a registry
//! handle); papo_client_connect_with() and papo_server_start_with() read it
//! and keep nothing of it. A setter checks its value the way the Rust
//! config's `validate` does, so a value the library would refuse is
//! refused where it is set.

use std::ffi::{c_char, c_int};
use std::path::PathBuf;
use std::time::Duration;

use super::{
    boundary, null_arg, opt_str_arg, FfiError, FfiResult, PAPO_ERR_INVALID_ARGUMENT,
    PAPO_ERR_INVALID_TEXT,
};
use crate::client::ClientTls;
use crate::config::{ClientConfig, Password, ServerConfig};
use crate::server::ServerTls;

/// A client's settings (opaque). Create it with papo_client_options_new(),
/// change what you need with the papo_client_options_set_*() functions,
/// pass it to papo_client_connect_with(), free it with
/// papo_client_options_free(). A later version adds setters, never fields
/// the caller must fill.
///
/// Since: 1.0.
#[derive(Clone)]
pub struct papo_client_options {
    config: ClientConfig,
    tls_ca_file: Option<PathBuf>,
    tls_server_name: Option<String>,
}

/// A server's settings and limits (opaque), as papo_client_options: create
/// with papo_server_options_new(), set, pass to papo_server_start_with(),
/// free with papo_server_options_free().
///
/// Since: 1.0.
#[derive(Clone)]
pub struct papo_server_options {
    config: ServerConfig,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
}

impl papo_client_options {
    pub(crate) fn defaults() -> papo_client_options {
        papo_client_options {
            config: ClientConfig::default(),
            tls_ca_file: None,
            tls_server_name: None,
        }
    }

    /// The Rust settings; the TLS file is read here.
    pub(crate) fn to_config(&self) -> FfiResult<ClientConfig> {
        let mut config = self.config.clone();
        config.tls = match &self.tls_ca_file {
            None => None,
            Some(path) => {
                let tls = ClientTls::from_ca_pem_file(path)?;
                match &self.tls_server_name {
                    None => Some(tls),
                    Some(name) => Some(tls.with_server_name(name)?),
                }
            }
        };
        Ok(config)
    }

    /// Sets the password (for 0.1's config struct).
    pub(crate) fn set_strings(
        &mut self,
        password: Option<&str>,
        tls_ca_file: Option<&str>,
        tls_server_name: Option<&str>,
    ) {
        self.config.password = password.map(Password::from);
        self.tls_ca_file = tls_ca_file.map(PathBuf::from);
        self.tls_server_name = tls_server_name.map(str::to_owned);
    }

    pub(crate) fn config_mut(&mut self) -> &mut ClientConfig {
        &mut self.config
    }
}

impl papo_server_options {
    pub(crate) fn defaults() -> papo_server_options {
        papo_server_options {
            config: ServerConfig::default(),
            tls_cert_file: None,
            tls_key_file: None,
        }
    }

    /// The Rust settings; the TLS files are read here.
    pub(crate) fn to_config(&self) -> FfiResult<ServerConfig> {
        let mut config = self.config.clone();
        config.tls = match (&self.tls_cert_file, &self.tls_key_file) {
            (None, None) => None,
            (Some(c), Some(k)) => Some(ServerTls::from_pem_files(c, k)?),
            _ => {
                return Err(FfiError::new(
                    PAPO_ERR_INVALID_ARGUMENT,
                    "tls_cert_file and tls_key_file go together: set both or neither",
                ))
            }
        };
        Ok(config)
    }

    /// Sets the TLS files (for 0.1's config struct).
    pub(crate) fn set_tls_files(&mut self, cert: Option<&str>, key: Option<&str>) {
        self.tls_cert_file = cert.map(PathBuf::from);
        self.tls_key_file = key.map(PathBuf::from);
    }

    pub(crate) fn config_mut(&mut self) -> &mut ServerConfig {
        &mut self.config
    }
}

/// The body of a client setter: the change is made on a copy, which
/// replaces the options only when the whole config still validates.
///
/// # Safety
/// `options` is NULL or a live options object used by no other thread.
unsafe fn set_client(
    options: *mut papo_client_options,
    change: impl FnOnce(&mut papo_client_options) -> FfiResult<()>,
) -> c_int {
    boundary(|| {
        // SAFETY: caller's contract.
        let o = unsafe { options.as_mut() }.ok_or_else(|| null_arg("options"))?;
        let mut next = o.clone();
        change(&mut next)?;
        next.config.validate()?;
        *o = next;
        Ok(())
    })
}

/// As [`set_client`], for a server's options.
///
/// # Safety
/// As [`set_client`].
unsafe fn set_server(
    options: *mut papo_server_options,
    change: impl FnOnce(&mut papo_server_options) -> FfiResult<()>,
) -> c_int {
    boundary(|| {
        // SAFETY: caller's contract.
        let o = unsafe { options.as_mut() }.ok_or_else(|| null_arg("options"))?;
        let mut next = o.clone();
        change(&mut next)?;
        next.config.validate()?;
        *o = next;
        Ok(())
    })
}

mod client;
mod server;
pub use client::*;
pub use server::*;
