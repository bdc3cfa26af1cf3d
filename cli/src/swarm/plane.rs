//! The control plane the swarm runs against: the embedded mock (several
//! instances over one state, in memory or in Redis), or running instances
//! given by URL.

use std::net::SocketAddr;
use std::sync::Arc;

use edgepoints_mock_server::store::{MemoryStore, RedisStore, StateStore};
use edgepoints_mock_server::testing::RedisServer;
use edgepoints_mock_server::{ControlPlane, MockServer};

use super::SwarmArgs;
use crate::admin::{admin_client, AdminClient};
use crate::CliResult;

pub(super) struct Plane {
    endpoints: Vec<url::Url>,
    embedded: Option<Embedded>,
    store: String,
}

struct Embedded {
    control_plane: Arc<ControlPlane>,
    /// By endpoint; none while stopped.
    servers: tokio::sync::Mutex<Vec<Option<MockServer>>>,
    addrs: Vec<SocketAddr>,
    /// The throwaway Redis behind `--store redis`, stopped last.
    _redis: Option<RedisServer>,
}

impl Plane {
    pub(super) async fn start(args: &SwarmArgs) -> CliResult<Plane> {
        if !args.control_plane.is_empty() {
            return Ok(Plane {
                endpoints: args.control_plane.clone(),
                embedded: None,
                store: "running instances".into(),
            });
        }
        let (store, redis): (Arc<dyn StateStore>, Option<RedisServer>) = match args.store.as_str() {
            "memory" => (Arc::new(MemoryStore::default()), None),
            "redis" => {
                let redis = RedisServer::start()?;
                let store = RedisStore::connect(&redis.url(), "swarm").await?;
                (Arc::new(store), Some(redis))
            }
            url => (Arc::new(RedisStore::connect(url, "swarm").await?), None),
        };
        let description = store.describe();
        let control_plane = Arc::new(ControlPlane::open(store, None).await?);
        let servers = MockServer::start_cluster(args.instances.max(1), control_plane.clone()).await?;
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr()).collect();
        let endpoints = servers.iter().map(|s| s.url().parse()).collect::<Result<_, _>>()?;
        Ok(Plane {
            endpoints,
            store: format!("{} instances over {description}", addrs.len()),
            embedded: Some(Embedded {
                control_plane,
                servers: tokio::sync::Mutex::new(servers.into_iter().map(Some).collect()),
                addrs,
                _redis: redis,
            }),
        })
    }

    pub(super) fn endpoints(&self) -> &[url::Url] {
        &self.endpoints
    }

    pub(super) fn describe(&self) -> String {
        self.store.clone()
    }

    /// The admin API of the first instance (the one never stopped).
    pub(super) fn admin(&self) -> CliResult<AdminClient> {
        admin_client(self.endpoints[0].as_str())
    }

    /// Whether instances can be stopped and restarted (embedded, several).
    pub(super) fn can_restart(&self) -> bool {
        self.embedded.as_ref().is_some_and(|e| e.addrs.len() > 1)
    }

    /// Stops the last instance at once: its listener closes and the
    /// connections it holds are ended; the state lives on in the others.
    pub(super) async fn stop_last(&self) -> Option<SocketAddr> {
        let embedded = self.embedded.as_ref()?;
        let server = embedded.servers.lock().await.last_mut()?.take()?;
        let addr = server.addr();
        server.shutdown().await;
        Some(addr)
    }

    /// Starts the last instance again on its address.
    pub(super) async fn restart_last(&self) -> CliResult {
        let Some(embedded) = &self.embedded else {
            return Ok(());
        };
        let addr = *embedded.addrs.last().ok_or("no instance")?;
        let server = MockServer::start_with(addr, embedded.control_plane.clone()).await?;
        if let Some(slot) = embedded.servers.lock().await.last_mut() {
            *slot = Some(server);
        }
        Ok(())
    }

    /// Makes sure there are cars to rent: the embedded mock opens the demo
    /// city's stations and cars; running instances must have some.
    pub(super) async fn ensure_cars(&self) -> CliResult {
        if let Some(embedded) = &self.embedded {
            edgepoints_mock_server::rental::catalogue::seed_demo(&embedded.control_plane).await?;
            embedded.control_plane.host_vehicles().await?;
        } else if self.admin()?.vehicles().await?.is_empty() {
            return Err("the control plane has no cars to rent".into());
        }
        Ok(())
    }

    pub(super) async fn shutdown(self) {
        if let Some(embedded) = self.embedded {
            for server in embedded.servers.into_inner().into_iter().flatten() {
                server.shutdown().await;
            }
        }
    }
}
