//! The owner's paired devices: the only peers allowed on `private` routes. None by default.
//!
//! The list is small and changes rarely: it is kept as one JSON value in the store's meta tree
//! (`paired_devices`) and mirrored into the route [`Policy`](crate::Policy), which every
//! inbound request consults.

use kith_protocols::DeviceView;
use libp2p::PeerId;

use super::SocialService;
use crate::{Error, state::now_ms};

/// The meta key of the list.
const DEVICES_KEY: &str = "paired_devices";

impl SocialService {
    /// The paired devices.
    ///
    /// # Errors
    ///
    /// Store errors, or a stored list that does not decode.
    pub fn devices(&self) -> Result<Vec<DeviceView>, Error> {
        match self.inner.store.meta().get(DEVICES_KEY)? {
            None => Ok(Vec::new()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Store(kith_storage::Error::Corrupt {
                    tree: "meta",
                    key: format!("{DEVICES_KEY}: {e}"),
                })
            }),
        }
    }

    /// Pairs `peer`: it may call this node's private routes from now on.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for the owner's own node; store errors.
    pub async fn pair_device(&self, peer: PeerId) -> Result<DeviceView, Error> {
        if peer == self.me() {
            return Err(Error::Refused(
                "this node is not a device of itself".to_owned(),
            ));
        }
        let _guard = self.inner.owner_lock.lock().await;
        let mut devices = self.devices()?;
        if let Some(existing) = devices.iter().find(|d| d.peer_id == peer) {
            return Ok(existing.clone());
        }
        let device = DeviceView {
            peer_id: peer,
            since_ms: now_ms(),
        };
        devices.push(device.clone());
        self.save_devices(&devices).await?;
        self.inner.policy.pair(peer);
        Ok(device)
    }

    /// Unpairs `peer`; returns whether it was paired.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn unpair_device(&self, peer: PeerId) -> Result<bool, Error> {
        let _guard = self.inner.owner_lock.lock().await;
        let mut devices = self.devices()?;
        let before = devices.len();
        devices.retain(|d| d.peer_id != peer);
        if devices.len() == before {
            return Ok(false);
        }
        self.save_devices(&devices).await?;
        self.inner.policy.unpair(&peer);
        Ok(true)
    }

    /// Loads the stored list into the route policy (at start).
    pub(crate) fn load_devices(&self) -> Result<(), Error> {
        for device in self.devices()? {
            self.inner.policy.pair(device.peer_id);
        }
        Ok(())
    }

    async fn save_devices(&self, devices: &[DeviceView]) -> Result<(), Error> {
        let bytes = serde_json::to_vec(devices)
            .map_err(|e| Error::Refused(format!("encoding the device list: {e}")))?;
        self.inner.store.meta().set(DEVICES_KEY, bytes).await?;
        Ok(())
    }
}
