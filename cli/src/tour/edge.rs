//! The tour's second act, on the embedded control plane: phones sync the
//! signed manifest and serve as edge nodes, their addresses are probed, a
//! consumer is routed to the nearest one and signs a receipt, a corrupted
//! origin copy is refused and reported, and heartbeats earn points.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{ConsentPolicy, FetchSource, NetworkKind, NodeHandle, ServingGate};
use edgepoints_mock_server::{origin, points, ControlPlane};
use edgepoints_protocol::paths::routes;
use serde_json::json;

use super::narrative::{check, km, say, step, LYON, PARIS, PARIS_EAST};
use super::Tour;
use crate::CliResult;

impl Tour {
    /// Alice syncs and serves; only ticket holders get bytes, and leaving
    /// her policy pauses the node.
    pub(super) async fn alice_serves(&mut self, plane: &Arc<ControlPlane>) -> CliResult<NodeHandle> {
        step("Alice's phone syncs the signed manifest and serves as an edge node");
        if origin::manifest(plane).await?.items.is_empty() {
            origin::seed_demo(plane).await?;
        }
        let alice = &self.alice.sdk;
        let report = alice.node().sync().await?;
        say(format!(
            "alice-phone   manifest v{}: fetched {} items ({} bytes), {} left out by the budget",
            report.manifest_version, report.fetched, report.bytes_fetched, report.over_budget
        ));
        check(
            report.fetched > 0 && report.failed.is_empty(),
            "every item fetched from the origin matched its hash",
        )?;
        let node = alice.node().start("127.0.0.1:0".parse()?).await?;
        let addr = node.local_addr().ok_or("the node stopped")?;
        say(format!("alice-phone   serving on http://{addr}"));
        let item = origin::manifest(plane).await?.items[0].clone();
        let url = format!("http://{addr}/content/{}", item.hash);
        let client = edgepoints_core::transport::http_client()?;
        let anonymous = client.get(&url).send().await?.status();
        let ticket = edgepoints_protocol::AccessTicket {
            node_id: edgepoints_protocol::DeviceId::parse(&alice.device_id())?,
            consumer_id: edgepoints_protocol::DeviceId::parse(&self.bob.sdk.device_id())?,
            content: item.hash,
            expires_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as u64
                + 60_000,
        }
        .sign(plane.key.key_id(), plane.key.signing_key());
        let served = client
            .get(&url)
            .header(edgepoints_protocol::TICKET_HEADER, &ticket)
            .send()
            .await?;
        let status = served.status();
        let body = served.bytes().await?;
        say(format!(
            "a routed user: {} without a ticket, {} with one ({} bytes)",
            anonymous.as_u16(),
            status.as_u16(),
            body.len()
        ));
        check(
            anonymous == 401 && status == 200 && edgepoints_core::ContentHash::of(&body) == item.hash,
            "only ticket holders are served, and the bytes match the hash",
        )?;
        alice.set_network(NetworkKind::Cellular)?;
        // A new consumer (new connection): connections open at the pause
        // were cut, which a consumer sees as an error, not a status.
        let paused = edgepoints_core::transport::http_client()?
            .get(&url)
            .header(edgepoints_protocol::TICKET_HEADER, &ticket)
            .send()
            .await?
            .status();
        alice.set_network(NetworkKind::Wifi)?;
        check(
            paused == 503,
            "on cellular (outside Alice's policy) the node pauses at once",
        )?;
        let stats = node.stats();
        say(format!(
            "node stats: {} requests, {} bytes served, refused {:?}",
            stats.requests, stats.bytes_served, stats.rejected
        ));
        Ok(node)
    }

    /// Carol serves too, in Paris; the control plane probes both nodes'
    /// addresses before it routes anyone to them.
    pub(super) async fn carol_serves_and_both_are_probed(&mut self, alice_node: &NodeHandle) -> CliResult<NodeHandle> {
        step("Carol's tablet serves too; each node's address is probed before it is routed to");
        let carol = &self.carol.sdk;
        carol.consent().grant("2026-11", ConsentPolicy::default()).await?;
        carol.set_network(NetworkKind::Wifi)?;
        carol.set_battery(70, true)?;
        carol.set_location(Some(PARIS))?;
        // Her app is still in the background, where the default policy
        // does not serve: the node waits until she opens it.
        let gate = carol.serving_gate();
        check(
            matches!(&gate, ServingGate::Paused { reason } if reason.contains("background")),
            "with the app in the background the default policy keeps the node paused",
        )?;
        carol.set_foreground(true)?;
        check(
            carol.serving_gate() == ServingGate::Serving,
            "Carol opens the app: the node may serve",
        )?;
        let synced = carol.node().sync().await?;
        let carol_node = carol.node().start("127.0.0.1:0".parse()?).await?;
        say(format!(
            "carol-tablet  synced {} items, serving on http://{} (Paris)",
            synced.fetched + synced.already_cached,
            carol_node.local_addr().ok_or("the node stopped")?
        ));
        // Alice's host shares her location after Carol started, so hers is
        // the freshest announcement: only distance puts Carol first below.
        self.alice.sdk.set_location(Some(LYON))?;
        self.alice.sdk.outbox().drain(Duration::from_secs(5)).await?;
        carol.outbox().drain(Duration::from_secs(5)).await?;
        for (name, handle) in [("alice-phone", alice_node), ("carol-tablet", &carol_node)] {
            say(format!(
                "{name:<13} reported {}, reachable as probed: {:?}",
                handle.local_addr().ok_or("the node stopped")?,
                handle.reachable_addresses()
            ));
        }
        let nodes = self.admin.state().await?.nodes;
        let probed = nodes
            .iter()
            .filter(|n| n.url.is_some() && !n.reachable.is_empty())
            .count();
        check(
            probed == 2 && !alice_node.reachable_addresses().is_empty() && !carol_node.reachable_addresses().is_empty(),
            "the control plane reached both nodes at the addresses they reported (a nonce each signed), and they know it",
        )?;
        Ok(carol_node)
    }

    /// Bob, in Paris, is routed to Carol (the nearest), verifies, and signs
    /// a receipt; an item no node holds comes from the origin. Returns the
    /// bytes Carol delivered.
    pub(super) async fn bob_fetches_from_the_nearest_node(
        &mut self,
        plane: &Arc<ControlPlane>,
        carol_node: &NodeHandle,
    ) -> CliResult<u64> {
        step("Bob's phone, in Paris, is routed to the nearest node; it signs a receipt for what it verified");
        let bob = &self.bob.sdk;
        bob.set_location(Some(PARIS_EAST))?;
        let wanted = origin::manifest(plane)
            .await?
            .items
            .into_iter()
            .find(|item| item.size == 4 << 20)
            .ok_or("the demo catalogue has a 4 MiB item")?;
        let report = bob.fetch(wanted.hash).await?;
        for attempt in &report.attempts {
            say(format!("bob-phone     tried {}: {:?}", attempt.source, attempt.outcome));
        }
        let from_peer = match &report.source {
            FetchSource::Node { node_id, .. } => Some(node_id.clone()),
            _ => None,
        };
        say(format!(
            "bob-phone     {:.0} km from Carol, {:.0} km from Alice",
            km(PARIS_EAST, PARIS),
            km(PARIS_EAST, LYON)
        ));
        check(
            from_peer.as_deref() == Some(self.carol.sdk.device_id().as_str())
                && bob.content().read(&wanted.hash).await?.map(|b| b.len() as u64) == Some(wanted.size),
            "Bob got the item from Carol's tablet, the nearest node, verified",
        )?;
        check(
            carol_node.stats().bytes_served == wanted.size,
            "Carol's node counted the bytes it delivered",
        )?;
        bob.outbox().drain(Duration::from_secs(5)).await?;
        let receipts = self.admin.applied("receipts").await?;
        check(
            report.receipt_queued && receipts == 1,
            "Bob's receipt (his signature over Carol's signed delivery statement and the ticket) was taken",
        )?;
        let fresh = origin::publish(plane, vec![7u8; 123_456].into(), 1).await?;
        let report = bob.fetch(fresh.hash).await?;
        say(format!(
            "bob-phone     a new item, held by no phone yet: from {}",
            report.source
        ));
        check(
            matches!(report.source, FetchSource::Origin { .. }),
            "an item no node holds comes from the origin",
        )?;
        Ok(wanted.size)
    }

    pub(super) async fn a_corrupted_copy_is_refused_and_reported(&mut self, plane: &Arc<ControlPlane>) -> CliResult {
        step("The origin serves a corrupted copy once: refused, reported, then fetched intact");
        let bob = &self.bob.sdk;
        let another = origin::publish(plane, vec![9u8; 65_536].into(), 1).await?;
        self.admin
            .add_fault(&json!({"route": routes::ORIGIN, "action": "tamper", "count": 1}))
            .await?;
        match bob.fetch(another.hash).await {
            Err(edgepoints_core::Error::ContentRejected { reason, .. }) => say(format!("refused: {reason}")),
            other => return Err(format!("expected a refusal of the corrupted copy, got {other:?}").into()),
        }
        check(
            !bob.content().contains(&another.hash)?,
            "nothing of the corrupted copy was kept",
        )?;
        bob.outbox().drain(Duration::from_secs(5)).await?;
        let reports = self.admin.state().await?.hash_failures.len();
        check(reports == 1, "the hash failure is on record at the control plane")?;
        let report = bob.fetch(another.hash).await?;
        check(
            matches!(report.source, FetchSource::Origin { .. }),
            "the next fetch got the intact copy",
        )
    }

    /// Carol's next heartbeat brings the delivery points for `delivered`
    /// bytes; ten more over five mock minutes earn online time.
    pub(super) async fn carol_earns_points(
        &mut self,
        plane: &Arc<ControlPlane>,
        carol_node: &NodeHandle,
        delivered: u64,
    ) -> CliResult {
        step("Carol's tablet heartbeats for five minutes (the mock's clock moves) and earns points");
        let carol = &self.carol.sdk;
        let rules = points::rules(plane).await?;
        let start = carol_node.heartbeat_now().await?;
        say(format!(
            "carol-tablet  the next heartbeat's answer brings {} points for the {delivered} bytes Bob received",
            start.delivery_points
        ));
        let delivered_mb = delivered / 1_000_000;
        check(
            start.delivery_points == delivered_mb * rules.points_per_delivered_mb,
            &format!("{delivered_mb} full MB delivered earned exactly the configured points"),
        )?;
        let mut credited = start.delivery_points;
        for _ in 0..10 {
            points::advance_clock(plane, rules.heartbeat_interval_ms).await?;
            credited += carol_node.heartbeat_now().await?.credited_points;
        }
        let balance = carol.points().balance().await?;
        let ledger = carol.points().ledger(0).await?;
        say(format!(
            "carol-tablet  heartbeats {}..{}, {} points credited, balance {}, {} s online",
            start.seq,
            start.seq + 10,
            credited,
            balance.balance,
            balance.online_ms / 1000
        ));
        for entry in &ledger.entries {
            say(format!("ledger #{}: +{} ({})", entry.id, entry.points, entry.detail));
        }
        let minutes = 10 * rules.heartbeat_interval_ms / 60_000;
        check(
            balance.balance == minutes * rules.points_per_online_minute + start.delivery_points
                && credited == balance.balance,
            &format!("{minutes} minutes of heartbeats earned exactly the configured points, on top of the delivery"),
        )
    }
}
