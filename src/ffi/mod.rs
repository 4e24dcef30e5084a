//! The C ABI. See `include/papo.h`.
