//! The addresses a node reports: the listener's own if it listens on one,
//! else every interface address of its family — from the host if it named
//! them (a phone's connectivity APIs know its networks best), else from
//! the system — without loopback and link-local ones unless configured.

use std::net::{IpAddr, SocketAddr};

/// `ip:port` strings for the announcement, sorted so a change is a change.
pub(crate) fn reported(listen: SocketAddr, host_given: Option<&[IpAddr]>, include_local: bool) -> Vec<String> {
    let port = listen.port();
    let ips: Vec<IpAddr> = if !listen.ip().is_unspecified() {
        vec![listen.ip()]
    } else {
        let candidates: Vec<IpAddr> = match host_given {
            Some(given) => given.to_vec(),
            None => if_addrs::get_if_addrs()
                .map(|interfaces| interfaces.into_iter().map(|i| i.ip()).collect())
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "cannot list the interface addresses");
                    Vec::new()
                }),
        };
        candidates
            .into_iter()
            .filter(|ip| listen.is_ipv6() || ip.is_ipv4())
            .filter(|ip| include_local || !(ip.is_loopback() || is_link_local(ip)))
            .collect()
    };
    let mut reported: Vec<String> = ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port).to_string())
        .collect();
    reported.sort();
    reported.dedup();
    reported.truncate(edgepoints_protocol::sources::MAX_ANNOUNCED_ADDRESSES);
    reported
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_listener_reports_itself_and_a_wildcard_one_its_interfaces() {
        let specific: SocketAddr = "192.168.1.7:8443".parse().unwrap();
        assert_eq!(reported(specific, None, false), vec!["192.168.1.7:8443"]);
        let any: SocketAddr = "0.0.0.0:8443".parse().unwrap();
        let given: Vec<IpAddr> = ["10.0.0.5", "127.0.0.1", "169.254.3.4", "fe80::1", "2001:db8::5"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(
            reported(any, Some(&given), false),
            vec!["10.0.0.5:8443"],
            "IPv4 only, no local ones"
        );
        assert_eq!(
            reported(any, Some(&given), true),
            vec!["10.0.0.5:8443", "127.0.0.1:8443", "169.254.3.4:8443"]
        );
        let any6: SocketAddr = "[::]:8443".parse().unwrap();
        assert_eq!(
            reported(any6, Some(&given), false),
            vec!["10.0.0.5:8443", "[2001:db8::5]:8443"]
        );
    }
}
