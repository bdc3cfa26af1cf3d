//! Reachability probes: the control plane connects back to each address a
//! node announced and asks `GET /probe/{nonce}`; the node answers with the
//! nonce signed by its device key. Only addresses that answered so are
//! routed to — an address behind a NAT, a firewall, or on another device
//! fails, whatever the announcement claims.

use std::net::SocketAddr;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use edgepoints_protocol::{DeviceId, ProbeAnswer, Purpose, SignedEnvelope};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one probe may take, connect to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Most bytes of a probe answer read.
const MAX_ANSWER: usize = 8 * 1024;

/// Probes every address at once; returns those that answered correctly,
/// in the order announced.
pub async fn reachable(addresses: &[String], device: &DeviceId, key: &VerifyingKey) -> Vec<String> {
    let mut probes = tokio::task::JoinSet::new();
    for (order, address) in addresses.iter().cloned().enumerate() {
        let (device, key) = (device.clone(), *key);
        probes.spawn(async move {
            let ok = tokio::time::timeout(PROBE_TIMEOUT, probe(&address, &device, &key))
                .await
                .unwrap_or(false);
            (order, ok.then_some(address))
        });
    }
    let mut answered: Vec<(usize, String)> = probes
        .join_all()
        .await
        .into_iter()
        .filter_map(|(order, address)| Some((order, address?)))
        .collect();
    answered.sort();
    answered.into_iter().map(|(_, address)| address).collect()
}

async fn probe(address: &str, device: &DeviceId, key: &VerifyingKey) -> bool {
    let Ok(addr) = address.parse::<SocketAddr>() else {
        return false;
    };
    let nonce = {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            return false;
        }
        hex::encode(bytes)
    };
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let request = format!("GET /probe/{nonce} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) if answer.len() + n <= MAX_ANSWER => answer.extend_from_slice(&chunk[..n]),
            _ => return false,
        }
    }
    let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    if !answer.starts_with(b"HTTP/1.1 200") {
        return false;
    }
    let Ok(envelope) = serde_json::from_slice::<SignedEnvelope>(&answer[split + 4..]) else {
        return false;
    };
    match envelope.open::<ProbeAnswer>(Purpose::Probe, key) {
        Ok(signed) => envelope.key_id == device.as_str() && signed.device_id == *device && signed.nonce == nonce,
        Err(_) => false,
    }
}
