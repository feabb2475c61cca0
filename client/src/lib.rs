//! kith-client
