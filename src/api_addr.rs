//! `<data-dir>/api.addr`: where the running node's HTTP API actually listens.
//!
//! `kith run --api 127.0.0.1:0` binds a port chosen by the system, which no config file names;
//! the node writes the bound address here once it listens and removes the file when it stops
//! cleanly, so that client commands (`kith status`, ...) find it. A node that crashed leaves the
//! file behind; clients then fail to connect and say that the node is not running.
//!
//! This file is not secret (the API needs the token); it is plain text, `IP:PORT` and a newline.

use std::{
    fs, io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
};

use anyhow::Context;
use kith_config::DataDir;

/// The path of the file in `data_dir`.
pub fn path(data_dir: &DataDir) -> PathBuf {
    data_dir.api_addr()
}

/// The address the running node announced, if the file exists.
pub fn read(data_dir: &DataDir) -> anyhow::Result<Option<SocketAddr>> {
    let path = path(data_dir);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let addr = text
        .trim()
        .parse()
        .with_context(|| format!("{} does not hold an IP:PORT address", path.display()))?;
    Ok(Some(addr))
}

/// The address a client on this machine should connect to in order to reach a server bound to
/// `addr`: an unspecified address (`0.0.0.0`, `::`) is reached over loopback.
pub fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// The file while the node runs: written on creation, removed by [`ApiAddrFile::remove`] (or,
/// as a fallback on an early return, on drop).
#[derive(Debug)]
pub struct ApiAddrFile {
    path: Option<PathBuf>,
}

impl ApiAddrFile {
    /// Writes `addr` to the file, replacing it atomically (a reader never sees half an address).
    pub fn write(data_dir: &DataDir, addr: SocketAddr) -> anyhow::Result<ApiAddrFile> {
        let path = path(data_dir);
        let temp = path.with_extension("addr.tmp");
        write_then_rename(&temp, &path, format!("{addr}\n").as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(ApiAddrFile { path: Some(path) })
    }

    /// Removes the file.
    pub fn remove(mut self) -> anyhow::Result<()> {
        match self.path.take() {
            Some(path) => remove(&path).with_context(|| format!("removing {}", path.display())),
            None => Ok(()),
        }
    }
}

impl Drop for ApiAddrFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = remove(&path);
        }
    }
}

fn write_then_rename(temp: &Path, path: &Path, content: &[u8]) -> io::Result<()> {
    fs::write(temp, content)?;
    fs::rename(temp, path)
}

fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_read_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        assert_eq!(read(&data_dir).unwrap(), None);
        let addr: SocketAddr = "127.0.0.1:43210".parse().unwrap();
        let file = ApiAddrFile::write(&data_dir, addr).unwrap();
        assert_eq!(
            fs::read_to_string(path(&data_dir)).unwrap(),
            "127.0.0.1:43210\n"
        );
        assert_eq!(read(&data_dir).unwrap(), Some(addr));
        file.remove().unwrap();
        assert!(!path(&data_dir).exists());

        drop(ApiAddrFile::write(&data_dir, addr).unwrap());
        assert!(
            !path(&data_dir).exists(),
            "dropping the guard removes the file"
        );
    }

    #[test]
    fn a_garbled_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        fs::write(path(&data_dir), "not an address").unwrap();
        let error = format!("{:#}", read(&data_dir).unwrap_err());
        assert!(error.contains("api.addr"), "{error}");
    }

    #[test]
    fn unspecified_addresses_are_reached_over_loopback() {
        assert_eq!(
            connectable("0.0.0.0:8080".parse().unwrap()),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(
            connectable("[::]:8080".parse().unwrap()),
            "[::1]:8080".parse().unwrap()
        );
        assert_eq!(
            connectable("10.0.0.2:8080".parse().unwrap()),
            "10.0.0.2:8080".parse().unwrap()
        );
    }
}
