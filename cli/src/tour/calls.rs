//! The tour's first act: registration, host state, consent under policies,
//! and the reliable calls — failures retried with one key, a decision that
//! waits out an outage, a lost answer applied once, failover between
//! instances, and a restart that resumes where the app was.

use std::time::{Duration, Instant};

use edgepoints_core::{ConsentPolicy, EdgePoints, NetworkKind};
use edgepoints_mock_server::MockServer;
use edgepoints_protocol::paths::routes;
use serde_json::json;

use super::narrative::{check, say, step};
use super::{open, Tour};
use crate::device::describe_consent;
use crate::CliResult;

impl Tour {
    pub(super) async fn three_phones_register(&mut self) -> CliResult {
        step("Three phones open the SDK and register (each signs with its own new key)");
        for d in self.devices() {
            let registration = d.sdk.register().await?;
            say(format!("{:<13} {} registered", d.name, registration.device_id));
        }
        let before = self.admin.requests_on(routes::DEVICES).await?;
        self.alice.sdk.register().await?;
        check(
            self.admin.requests_on(routes::DEVICES).await? == before,
            "registering again is answered from the device's own store, no request sent",
        )
    }

    pub(super) fn phones_report_their_state(&mut self) -> CliResult {
        step("The phones tell the SDK about their state");
        self.alice.sdk.set_network(NetworkKind::Wifi)?;
        self.alice.sdk.set_battery(82, true)?;
        self.bob.sdk.set_network(NetworkKind::Cellular)?;
        self.bob.sdk.set_battery(55, false)?;
        self.carol.sdk.set_network(NetworkKind::Wifi)?;
        self.carol.sdk.set_battery(97, true)?;
        self.carol.sdk.set_foreground(false)?;
        for d in self.devices() {
            let h = d.sdk.host_state()?;
            say(format!(
                "{:<13} {:?}, battery {} %{}",
                d.name,
                h.network,
                h.battery_percent,
                if h.charging { ", charging" } else { "" }
            ));
        }
        Ok(())
    }

    pub(super) async fn alice_and_bob_consent(&mut self) -> CliResult {
        step("Alice and Bob consent to serve, each under their own policy");
        let alice = self
            .alice
            .sdk
            .consent()
            .grant("2026-11", ConsentPolicy::default())
            .await?;
        say(format!("alice-phone   {}", describe_consent(&alice)));
        let bob_policy = ConsentPolicy {
            serve_on_cellular: true,
            charging_only: true,
            min_battery_percent: 50,
            monthly_upload_cap_bytes: 2 << 30,
            ..ConsentPolicy::default()
        };
        let bob = self.bob.sdk.consent().grant("2026-11", bob_policy).await?;
        say(format!("bob-phone     {}", describe_consent(&bob)));
        check(
            alice.reported && bob.reported,
            "both decisions reached the control plane",
        )
    }

    pub(super) async fn a_bad_policy_is_refused(&mut self) -> CliResult {
        step("A policy the SDK refuses: minimum battery 140 %");
        let refused = self
            .carol
            .sdk
            .consent()
            .grant(
                "2026-11",
                ConsentPolicy {
                    min_battery_percent: 140,
                    ..ConsentPolicy::default()
                },
            )
            .await;
        match refused {
            Err(edgepoints_core::Error::InvalidInput(why)) => say(format!("refused: {why}")),
            other => return Err(format!("expected a refusal, got {other:?}").into()),
        }
        check(
            self.carol.sdk.consent().state()?.revision == 0,
            "the refused call changed nothing",
        )
    }

    pub(super) async fn consent_survives_two_failures(&mut self) -> CliResult {
        step("The control plane fails twice (503); Carol's consent survives it");
        self.admin
            .add_fault(&json!({"route": routes::DEVICE_CONSENT, "action": "fail", "status": 503, "count": 2}))
            .await?;
        let before = self.admin.requests_on(routes::DEVICE_CONSENT).await?;
        let carol = self
            .carol
            .sdk
            .consent()
            .grant("2026-11", ConsentPolicy::default())
            .await?;
        let sent = self.admin.requests_on(routes::DEVICE_CONSENT).await? - before;
        say(format!("carol-tablet  {}", describe_consent(&carol)));
        check(
            carol.reported && sent == 3,
            "two 503s retried with the same key, then applied",
        )
    }

    pub(super) async fn a_revocation_waits_for_the_control_plane(&mut self) -> CliResult {
        step("Bob revokes while the control plane is down; the decision waits, then is reported");
        self.admin
            .add_fault(&json!({"route": routes::DEVICE_CONSENT, "action": "fail", "status": 503, "count": 50}))
            .await?;
        let pending = self.bob.sdk.consent().revoke(true).await?;
        say(format!("bob-phone     {}", describe_consent(&pending)));
        check(!pending.reported, "revoked on the phone at once, report pending")?;
        self.admin.reset_faults().await?;
        let reported = self.bob.sdk.consent().report_pending().await?;
        say(format!("bob-phone     {}", describe_consent(&reported)));
        check(reported.reported, "reported once the control plane was back")
    }

    pub(super) async fn a_lost_answer_is_applied_once(&mut self) -> CliResult {
        step("An answer is lost after the control plane committed; Carol's next call is not applied twice");
        self.admin
            .add_fault(&json!({"route": routes::DEVICE_CONSENT, "action": "drop_after_commit", "count": 1}))
            .await?;
        let applied_before = self.admin.applied("consent_reports").await?;
        let carol = self.carol.sdk.consent().revoke(false).await?;
        let applied_after = self.admin.applied("consent_reports").await?;
        say(format!("carol-tablet  {}", describe_consent(&carol)));
        check(
            carol.reported && applied_after == applied_before + 1,
            "the SDK asked what became of its call and took the stored answer: applied once",
        )
    }

    /// With several instances: the one Alice sticks to goes down and comes
    /// back.
    pub(super) async fn calls_fail_over_and_come_back(&mut self) -> CliResult {
        if self.servers.len() < 2 {
            return Ok(());
        }
        step("The instance Alice's calls stick to goes down; her calls fail over, no new registration");
        let alice = &self.alice.sdk;
        let sticky = sticky_instance(&self.servers, alice).ok_or("alice's endpoint is not one of ours")?;
        say(format!("alice-phone   sticks to {}", self.servers[sticky].url()));
        let downed = self.servers.remove(sticky);
        let addr = downed.addr();
        let control_plane = downed.control_plane().clone();
        downed.shutdown().await;
        say(format!("instance {addr} stopped"));
        let registrations = self.registrations().await?;
        let moved = alice.consent().grant("2026-11", ConsentPolicy::default()).await?;
        say(format!(
            "alice-phone   {} via {}",
            describe_consent(&moved),
            alice.current_endpoint()
        ));
        check(
            moved.reported && self.registrations().await? == registrations,
            "served by another instance from the shared state, without registering again",
        )?;
        let revived = MockServer::start_with(addr, control_plane).await?;
        say(format!("instance {addr} restarted"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while revived.requests_served() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            alice.consent().grant("2026-11", ConsentPolicy::default()).await?;
        }
        check(
            revived.requests_served() > 0,
            "after its ejection ran out and a health probe passed, Alice's calls went back to it",
        )?;
        self.servers.insert(sticky, revived);
        Ok(())
    }

    pub(super) async fn alice_restarts(&mut self) -> CliResult {
        step("Alice's app restarts: same device, same consent");
        let alice_id = self.alice.sdk.device_id();
        let alice_before = self.alice.sdk.consent().state()?;
        self.alice.sdk.shutdown().await;
        self.alice.sdk = open(&self.endpoints, &self.alice.dir)?;
        check(
            self.alice.sdk.device_id() == alice_id,
            "the device id survived the restart",
        )?;
        check(
            self.alice.sdk.consent().state()? == alice_before,
            "the consent survived the restart",
        )
    }

    /// Registrations applied, asked of an instance that is up.
    async fn registrations(&self) -> CliResult<i64> {
        let state = self.live_admin()?.state().await?;
        Ok(super::applied(&state, "registrations"))
    }
}

/// Which of the mock instances `sdk` calls now.
pub(super) fn sticky_instance(servers: &[MockServer], sdk: &EdgePoints) -> Option<usize> {
    let current = sdk.current_endpoint();
    servers
        .iter()
        .position(|s| s.url() == current.as_str().trim_end_matches('/'))
}
