//! The tour's members act: Bob signs up and logs in on his phone and on
//! Carol's tablet; both calls stick to Bob's instance, which goes down
//! without ending his session; a notice reaches him once though an answer
//! is lost; he logs out on the phone, and the tablet's session expires on
//! the mock clock.

use std::time::Duration;

use edgepoints_core::{Error, MemberState};
use edgepoints_mock_server::MockServer;
use edgepoints_protocol::paths::routes;
use serde_json::json;

use super::calls::sticky_instance;
use super::narrative::{check, say, step};
use super::Tour;
use crate::CliResult;

const MEMBER: &str = "bob@tour.edgepoints";
const PASSWORD: &str = "bob's long passphrase";

impl Tour {
    pub(super) async fn bob_signs_up_and_logs_in_on_two_devices(&mut self) -> CliResult {
        step("Bob signs up as a member and logs in on his phone and on Carol's tablet");
        match self.bob.sdk.members().sign_up(MEMBER, PASSWORD).await {
            Ok(signed_up) => say(format!(
                "bob-phone     signed up {} as {}",
                signed_up.member, signed_up.member_id
            )),
            Err(Error::MemberTaken) => say(format!("bob-phone     {MEMBER} was signed up by an earlier tour")),
            Err(error) => return Err(error.into()),
        }
        let wrong = self.bob.sdk.members().login(MEMBER, "not my password").await;
        check(
            matches!(wrong, Err(Error::LoginFailed)),
            "a wrong password is refused as `login_failed`, as an unknown member would be",
        )?;
        let phone = self.bob.sdk.members().login(MEMBER, PASSWORD).await?;
        let tablet = self.carol.sdk.members().login(MEMBER, PASSWORD).await?;
        say(format!(
            "bob-phone     session kept while used within {} min, {} h at most",
            (phone.idle_expires_at_ms - phone.created_at_ms) / 60_000,
            (phone.absolute_expires_at_ms - phone.created_at_ms) / 3_600_000
        ));
        let sessions = self.live_admin()?.sessions().await?;
        let bobs = sessions.iter().filter(|s| s.member_id == phone.member_id).count();
        check(
            tablet.member_id == phone.member_id && bobs == 2,
            "two sessions of one member, one per device, in the shared session store",
        )?;
        check(
            self.bob.sdk.current_endpoint() == self.carol.sdk.current_endpoint(),
            &format!(
                "both devices' calls stick to Bob's instance, {}",
                self.bob.sdk.current_endpoint()
            ),
        )
    }

    pub(super) async fn bobs_instance_dies_and_his_session_goes_on(&mut self) -> CliResult {
        if self.servers.len() < 2 {
            return Ok(());
        }
        step("Bob's instance goes down; his calls carry on at the next, with the same session");
        let sticky = sticky_instance(&self.servers, &self.bob.sdk).ok_or("bob's endpoint is not one of ours")?;
        let downed = self.servers.remove(sticky);
        let (addr, control_plane) = (downed.addr(), downed.control_plane().clone());
        downed.shutdown().await;
        say(format!("instance {addr} stopped"));
        let admin = self.live_admin()?;
        let logins = admin.requests_on(routes::DEVICE_LOGIN).await?;
        for device in [&self.bob, &self.carol] {
            let session = device.sdk.members().check_session().await?;
            say(format!(
                "{:<13} session of {} answered via {}",
                device.name,
                session.member,
                device.sdk.current_endpoint()
            ));
        }
        check(
            admin.requests_on(routes::DEVICE_LOGIN).await? == logins,
            "no new login: the other instance read the session from the shared store",
        )?;
        let now = self.bob.sdk.current_endpoint();
        let host = format!(
            "{}:{}",
            now.host_str().unwrap_or_default(),
            now.port().unwrap_or_default()
        );
        let recorded = admin
            .sessions()
            .await?
            .iter()
            .all(|s| s.endpoint.as_deref() == Some(&host));
        check(recorded, "the session store records the instance that serves Bob now")?;
        self.servers
            .insert(sticky, MockServer::start_with(addr, control_plane).await?);
        say(format!("instance {addr} restarted"));
        Ok(())
    }

    pub(super) async fn a_notice_reaches_bob_once(&mut self) -> CliResult {
        step("QA pushes Bob a notice; the answer that carries it is lost once");
        let admin = self.live_admin()?;
        let MemberState::LoggedIn { session } = self.bob.sdk.members().state()? else {
            return Err("bob is not logged in".into());
        };
        admin
            .post_notice(
                &session.member_id,
                "message",
                "Your car is charged and waiting at station 4",
            )
            .await?;
        admin
            .add_fault(&json!({
                "route": routes::DEVICE_MEMBER_HEARTBEATS,
                "action": "drop_after_commit",
                "count": 1
            }))
            .await?;
        let beats = admin.requests_on(routes::DEVICE_MEMBER_HEARTBEATS).await?;
        let first = self.bob.sdk.members().heartbeat_now().await?;
        for notice in &first {
            say(format!("bob-phone     notice: {}", notice.text));
        }
        let again = self.bob.sdk.members().heartbeat_now().await?;
        let pending = admin.pending_notices(&session.member_id).await?;
        admin.reset_faults().await?;
        let sent = admin.requests_on(routes::DEVICE_MEMBER_HEARTBEATS).await? - beats;
        say(format!(
            "{sent} heartbeats sent: one answer lost, its retry replayed, one more to acknowledge"
        ));
        check(
            first.len() == 1 && again.is_empty() && pending.is_empty() && sent >= 3,
            "the notice reached the app once, was acknowledged, and will not come again",
        )
    }

    pub(super) async fn bob_logs_out_and_his_other_session_expires(&mut self) -> CliResult {
        step("Bob logs out on his phone; the tablet's session expires on the mock clock");
        let admin = self.live_admin()?;
        self.bob.sdk.members().logout()?;
        self.bob.sdk.outbox().drain(Duration::from_secs(20)).await?;
        let left = admin.sessions().await?.len();
        check(
            self.bob.sdk.members().state()? == MemberState::LoggedOut && left == 1,
            "logged out on the phone and on the control plane; the tablet's session remains",
        )?;
        let idle = admin.session_timeouts().await?.idle_ms;
        admin.advance_clock(Duration::from_millis(idle + 60_000)).await?;
        say(format!("the mock clock moves {} min on", (idle + 60_000) / 60_000));
        let expired = self.carol.sdk.members().check_session().await;
        check(
            matches!(expired, Err(Error::SessionExpired { .. }))
                && matches!(self.carol.sdk.members().state()?, MemberState::Expired { .. }),
            "the tablet's session expired: member calls say so until Bob logs in again",
        )
    }
}
