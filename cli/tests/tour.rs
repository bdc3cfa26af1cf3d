//! The tour is the main job: run the real binary, as a user would.

use std::process::Command;

#[test]
fn tour_runs_every_flow_and_exits_zero() {
    let output = Command::new(env!("CARGO_BIN_EXE_edgepoints"))
        .arg("tour")
        .output()
        .expect("the edgepoints binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tour failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("tour finished"), "{stdout}");
    assert!(!stdout.contains("check failed"), "{stdout}");
    assert_eq!(stdout.matches(" registered\n").count(), 3, "{stdout}");
    assert!(
        stdout.contains("served by another instance"),
        "the tour shows a failover: {stdout}"
    );
    assert!(
        stdout.contains("applied once"),
        "the tour survives a lost answer: {stdout}"
    );
    assert!(
        stdout.contains("ok: Bob got the item from Carol's tablet") && stdout.contains("comes from the origin"),
        "the tour fetches from a peer and from the origin: {stdout}"
    );
    assert!(
        stdout.contains("minutes of heartbeats earned exactly the configured points"),
        "the tour earns points: {stdout}"
    );
    assert!(
        stdout.contains("ok: the control plane reached both nodes at the addresses they reported")
            && stdout.contains("the nearest node, verified")
            && stdout.contains("receipt (his signature over Carol's signed delivery statement")
            && stdout.contains("MB delivered earned exactly the configured points"),
        "the tour probes addresses, routes to the nearest node and credits a receipt: {stdout}"
    );
    assert!(
        stdout.contains("ok: two sessions of one member")
            && stdout.contains("ok: no new login: the other instance read the session from the shared store")
            && stdout.contains("ok: the notice reached the app once")
            && stdout.contains("ok: logged out on the phone and on the control plane")
            && stdout.contains("ok: the tablet's session expired"),
        "the tour shows members: login, failover without login, a notice once, logout, expiry: {stdout}"
    );
    assert!(
        stdout.contains("ok: Bob's reservation of the same car is refused: `vehicle_taken`")
            && stdout.contains("the car accepted the signed unlock")
            && stdout.contains("is refused: `replayed_counter`")
            && stdout.contains("Alice's card opens the car, offline")
            && stdout.contains("ok: the rental runs on at another instance with the same session: no new login")
            && stdout.contains("ok: ended at the Harbour, another station")
            && stdout.contains("one bill, one SMS, nothing pending")
            && stdout.contains("ok: the bill and the SMS reached Alice's phone as notices, each once"),
        "the tour shows a rental: a refused rival, the credential, a replay, failover, the bill and SMS once: {stdout}"
    );
    assert!(
        stdout.contains("ok: rejected: the spaced-out fraud phrase")
            && stdout.contains("ok: fixed and resubmitted: live")
            && stdout.contains("ok: Alice cannot claim through her own code")
            && stdout.contains("ok: valid, checked with no network")
            && stdout.contains("ok: a screenshot replayed a minute later is refused as stale")
            && stdout.contains("ok: redeemed once though its answer was lost")
            && stdout.contains("referral points for Bob's redemption")
            && stdout.contains("ok: the first redemption stands; the double one is reported to both tills"),
        "the tour shows coupons: review, fix, referral, offline check, one redemption: {stdout}"
    );
    assert!(
        stdout.contains("claim is refused as `not_enough_points` and changes nothing")
            && stdout.contains("ok: the debit and the coupon are one change")
            && stdout.contains("points_reward    -150 cents")
            && stdout.contains("after the credit, which is used up")
            && stdout.contains("ok: Alice's share, Bob's view and referred claim")
            && stdout.contains("ok: the books hold"),
        "the tour shows the loyalty loop: a refusal, a purchase, a cheaper rental, funnels, the books: {stdout}"
    );
}

#[test]
fn device_subcommands_share_one_data_directory() {
    let server = std::process::Command::new(env!("CARGO_BIN_EXE_edgepoints"))
        .args(["device", "--control-plane", "http://127.0.0.1:1", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg("status")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&server.stdout);
    assert!(server.status.success(), "{stdout}");
    assert!(stdout.contains("registered  no"), "{stdout}");
    assert!(stdout.contains("consent     not asked"), "{stdout}");
}

#[tokio::test]
async fn a_headless_node_serves_what_it_synced_to_the_fetch_command() {
    let server = edgepoints_mock_server::MockServer::start(Default::default())
        .await
        .unwrap();
    let item = edgepoints_mock_server::origin::publish(server.control_plane(), vec![42u8; 70_000].into(), 5)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_edgepoints"))
        .args([
            "node",
            "--control-plane",
            &server.url(),
            "--listen",
            "127.0.0.1:0",
            "--grant",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stdout.take().unwrap()));
    let first = lines.next_line().await.unwrap().unwrap();
    let url = first.split("serving on ").nth(1).expect("address line").to_owned();
    let hash = edgepoints_core::ContentHash::of(b"x");
    let client = edgepoints_core::transport::http_client().unwrap();
    let answer = client.get(format!("{url}/content/{hash}")).send().await.unwrap();
    assert_eq!(answer.status(), 401, "no ticket, nothing served");
    // The node syncs at start; then a consumer process fetches from it.
    loop {
        let line = lines.next_line().await.unwrap().expect("the node prints its sync");
        if line.starts_with("sync:") {
            assert!(line.contains("1 fetched"), "{line}");
            break;
        }
    }
    let consumer_dir = tempfile::tempdir().unwrap();
    let out = consumer_dir.path().join("item.bin");
    let fetched = tokio::process::Command::new(env!("CARGO_BIN_EXE_edgepoints"))
        .args([
            "fetch",
            &item.hash.to_hex(),
            "--control-plane",
            &server.url(),
            "--data-dir",
        ])
        .arg(consumer_dir.path().join("data"))
        .arg("--out")
        .arg(&out)
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&fetched.stdout);
    assert!(
        fetched.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    assert!(printed.contains("verified, from node dev_"), "{printed}");
    assert_eq!(std::fs::read(&out).unwrap(), vec![42u8; 70_000]);

    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let status = child.wait().await.unwrap();
    assert!(status.success());
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push(line);
    }
    assert!(
        rest.iter()
            .any(|l| l.starts_with("stopped: ") && l.contains(" requests, 70000 bytes served, 1 hits")),
        "{rest:?}"
    );
}

#[test]
fn fetching_unknown_content_fails_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_edgepoints"))
        .args([
            "fetch",
            "not-a-hash",
            "--control-plane",
            "http://127.0.0.1:1",
            "--data-dir",
        ])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("error:"));
}

#[tokio::test]
async fn member_subcommands_log_in_read_a_notice_and_log_out() {
    let server = edgepoints_mock_server::MockServer::start(Default::default())
        .await
        .unwrap();
    edgepoints_mock_server::members::seed_demo(server.control_plane())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let run = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_edgepoints"));
        command.arg("member").args(args);
        command.env("EDGEPOINTS_PASSWORD", edgepoints_mock_server::members::DEMO_PASSWORD);
        async move {
            let output = command.output().await.expect("runs");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            (output.status.success(), stdout, stderr)
        }
    };
    let data = dir.path().to_str().unwrap();
    let device = ["--control-plane", &url, "--data-dir", data];
    let member = edgepoints_mock_server::members::DEMO_MEMBERS[1];
    let (ok, out, err) = run(&[&["login"], &device[..], &[member]].concat()).await;
    assert!(ok && out.contains(&format!("logged in {member}")), "{out}{err}");
    let member_id = out.split(['(', ')']).nth(1).unwrap().to_owned();
    let (ok, out, err) = run(&[
        "notify",
        "--control-plane",
        &url,
        &member_id,
        "hello",
        "--kind",
        "sms_sent",
    ])
    .await;
    assert!(ok, "{out}{err}");
    let (ok, out, err) = run(&[&["heartbeat"], &device[..]].concat()).await;
    assert!(
        ok && out.contains("1 new notices") && out.contains("hello"),
        "{out}{err}"
    );
    let (ok, out, _) = run(&["sessions", "--control-plane", &url]).await;
    assert!(ok && out.contains(member), "{out}");
    let (ok, out, err) = run(&[&["logout"], &device[..]].concat()).await;
    assert!(ok && out.contains("logged out"), "{out}{err}");
    let (ok, out, _) = run(&["sessions", "--control-plane", &url]).await;
    assert!(ok && out.trim().is_empty(), "no session left: {out}");
    let (ok, _, err) = run(&[&["login"], &device[..], &[member, "--password", "wrong password"]].concat()).await;
    assert!(!ok && err.contains("wrong member name or password"), "{err}");
}

#[tokio::test]
async fn coupons_subcommands_publish_claim_present_validate_and_redeem() {
    let server = edgepoints_mock_server::MockServer::start(Default::default())
        .await
        .unwrap();
    let url = server.url();
    let (till, customer) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let run = |args: Vec<String>| async move {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_edgepoints"))
            .arg("coupons")
            .args(&args)
            .output()
            .await
            .expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let on = |dir: &tempfile::TempDir, command: &str, rest: &[&str]| {
        let mut args = vec![
            command.to_owned(),
            "--control-plane".into(),
            url.clone(),
            "--data-dir".into(),
            dir.path().display().to_string(),
        ];
        args.extend(rest.iter().map(|s| s.to_string()));
        args
    };
    let created = run(vec![
        "new-merchant".into(),
        "--control-plane".into(),
        url.clone(),
        "--name".into(),
        "Kiosk".into(),
        "--shop".into(),
        "Gare de l'Est".into(),
    ])
    .await;
    let code = created.trim().rsplit(' ').next().unwrap().to_owned();
    run(on(&till, "enrol", &[&code])).await;
    let published = run(on(
        &till,
        "publish",
        &["--title", "Coffee 10% off", "--shop", "Gare de l'Est"],
    ))
    .await;
    assert!(published.contains("is Live"), "{published}");
    let activity = published.split_whitespace().nth(1).unwrap().to_owned();
    let claimed = run(on(&customer, "claim", &[&activity])).await;
    let serial = claimed.split_whitespace().nth(1).unwrap().to_owned();
    let shown = run(on(&customer, "present", &[&serial])).await;
    let presentation = shown.lines().next().unwrap().to_owned();
    assert!(presentation.starts_with("EPP1:") && shown.contains('█'), "{shown}");
    let checked = run(on(&till, "validate", &[&presentation])).await;
    assert!(checked.starts_with("Valid"), "{checked}");
    let redeemed = run(on(&till, "redeem", &[&presentation, "--order", "A1"])).await;
    assert!(redeemed.contains(&serial), "{redeemed}");
    let standing = run(on(&till, "check", &[&presentation])).await;
    assert!(standing.contains("is Redeemed"), "{standing}");
    let funnel = run(on(&till, "funnel", &[&activity])).await;
    let total = funnel.lines().find(|l| l.starts_with("total")).unwrap_or_default();
    let counts: Vec<&str> = total.split_whitespace().skip(1).collect();
    // views shares claims referred given-back checks redeems …
    assert_eq!(counts[..7], ["0", "0", "1", "0", "0", "2", "1"], "{funnel}");
}

#[tokio::test]
async fn points_subcommands_set_a_reward_list_it_and_check_the_books() {
    let server = edgepoints_mock_server::MockServer::start(Default::default())
        .await
        .unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: Vec<&str>| {
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_edgepoints"))
                .arg("points")
                .args(&args)
                .output()
                .await
                .expect("runs");
            (
                output.status.success(),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }
    };
    let data = dir.path().display().to_string();
    let (ok, out, err) = run(vec![
        "set-reward",
        "--control-plane",
        &url,
        "--id",
        "ferry-ticket",
        "--title",
        "A ferry ticket",
        "--points",
        "40",
        "--voucher",
        "Harbour Ferries",
    ])
    .await;
    assert!(ok && out.contains("reward ferry-ticket set"), "{out}{err}");
    let (ok, out, _) = run(vec!["rewards", "--control-plane", &url, "--data-dir", &data]).await;
    assert!(
        ok && out
            .lines()
            .any(|l| l.starts_with("ferry-ticket") && l.contains("40 points")),
        "{out}"
    );
    let (ok, out, _) = run(vec!["balance", "--control-plane", &url, "--data-dir", &data]).await;
    assert!(ok && out.starts_with("0 points (dev_"), "{out}");
    let (ok, _, err) = run(vec![
        "redeem",
        "--control-plane",
        &url,
        "--data-dir",
        &data,
        "ferry-ticket",
    ])
    .await;
    assert!(!ok && err.contains("no member is logged in"), "{err}");
    let (ok, out, _) = run(vec!["check", "--control-plane", &url]).await;
    assert!(ok && out.contains("the books hold"), "{out}");
}

#[tokio::test]
async fn rental_subcommands_find_reserve_start_and_end_a_rental() {
    let server = edgepoints_mock_server::MockServer::start(Default::default())
        .await
        .unwrap();
    edgepoints_mock_server::members::seed_demo(server.control_plane())
        .await
        .unwrap();
    edgepoints_mock_server::rental::catalogue::seed_demo(server.control_plane())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let run = |command: &str, args: Vec<&str>| {
        let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_edgepoints"));
        process.arg(command).args(args);
        process.env("EDGEPOINTS_PASSWORD", edgepoints_mock_server::members::DEMO_PASSWORD);
        async move {
            let output = process.output().await.expect("runs");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(output.status.success(), "{stdout}{stderr}");
            stdout
        }
    };
    let data = dir.path().to_str().unwrap();
    let device = |action: &'static str| vec![action, "--control-plane", url.as_str(), "--data-dir", data];
    run(
        "member",
        [device("login"), vec![edgepoints_mock_server::members::DEMO_MEMBERS[0]]].concat(),
    )
    .await;
    let found = run(
        "rental",
        [device("find"), vec!["--lat", "48.1402", "--lon", "11.5600"]].concat(),
    )
    .await;
    assert!(found.starts_with("ev-10"), "{found}");
    let reserved = run("rental", [device("reserve"), vec!["ev-101"]].concat()).await;
    assert!(reserved.starts_with("reserved rental"), "{reserved}");
    assert!(run("rental", device("start")).await.starts_with("running"));
    let honk = run("rental", [device("command"), vec!["honk"]].concat()).await;
    assert!(honk.contains("honk #2: accepted"), "{honk}");
    let drive = vec![
        "drive",
        "--control-plane",
        &url,
        "ev-101",
        "--lat",
        "48.1300",
        "--lon",
        "11.5800",
    ];
    run("rental", drive).await;
    let ended = run("rental", device("end")).await;
    assert!(ended.starts_with("closed") && ended.contains("fee"), "{ended}");
    let queues = run("rental", vec!["queues", "--control-plane", &url]).await;
    assert!(queues.contains("stream billing"), "{queues}");
    let rentals = run("rental", vec!["rentals", "--control-plane", &url]).await;
    assert!(rentals.contains("ev-101   ended"), "{rentals}");
}
