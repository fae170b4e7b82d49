//! The chat-model port: what the use cases and channels need from a chat
//! model, without compiling any engine. Engines (the embedded GGUF model,
//! HTTP providers) implement [`ChatModel`] in `openzero-llm`.
//!
//! **Invariant:** types only; no I/O. Every model says whether it is
//! `local` or `cloud` ([`Locality`]), which decides whether consent is
//! needed before the owner's context reaches it.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::agent::ChatMessage;
use crate::tools::{ToolCall, ToolSpec};

/// Where a provider runs, which decides whether consent is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Locality {
    /// On this machine or the owner's private network.
    Local,
    /// A third party's service: the owner's context leaves only with consent.
    Cloud,
}

/// Which provider and model answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderInfo {
    pub provider: String,
    pub model: String,
    pub locality: Locality,
}

/// One request to a chat model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// 0 for greedy decoding.
    pub temperature: f64,
    /// Tools the model may call (ignored by models without tool support).
    pub tools: Vec<ToolSpec>,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Finish {
    /// The model ended its answer.
    Stop,
    /// `max_tokens` was reached.
    Length,
}

/// A model's whole answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatResponse {
    pub text: String,
    /// Tools the model asked for instead of (or besides) answering.
    pub tool_calls: Vec<ToolCall>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish: Finish,
}

/// Why a chat model could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the chat model file {path} is missing; {how}")]
    Missing { path: PathBuf, how: &'static str },
    #[error("the chat model file {path} is not a usable GGUF model ({detail}); {how}")]
    Invalid {
        path: PathBuf,
        detail: String,
        how: &'static str,
    },
    #[error(
        "the conversation is too long for the model ({tokens} tokens; it handles {max}); start a new one or shorten the message"
    )]
    TooLong { tokens: usize, max: usize },
    #[error("the chat model failed: {0}")]
    Inference(String),
}

/// A chat model.
#[async_trait]
pub trait ChatModel: Send + Sync + std::fmt::Debug {
    fn info(&self) -> ProviderInfo;
    /// Whether the model can be offered tools.
    fn supports_tools(&self) -> bool {
        false
    }
    /// Answers `req`. When `deltas` is given, pieces of text are sent to it
    /// as they are generated (their concatenation is the answer's text).
    async fn chat(
        &self,
        req: ChatRequest,
        deltas: Option<UnboundedSender<String>>,
    ) -> Result<ChatResponse, LlmError>;

    /// The exact bytes a request for `req` sends over the network, for
    /// providers that send any (`None` for a model in this process). The
    /// consent step logs their hash before [`ChatModel::send_encoded`] sends
    /// them, so what the log says left is what left.
    fn encode(&self, _req: &ChatRequest) -> Result<Option<Vec<u8>>, LlmError> {
        Ok(None)
    }

    /// Sends a request body made by [`ChatModel::encode`], unchanged.
    async fn send_encoded(
        &self,
        _body: Vec<u8>,
        _deltas: Option<UnboundedSender<String>>,
    ) -> Result<ChatResponse, LlmError> {
        Err(LlmError::Inference(
            "this model runs in this process and sends nothing over the network".into(),
        ))
    }
}

/// A chat server's host, as a URL parser read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(std::net::IpAddr),
    Name(String),
}

/// Why a chat server counts as local or cloud (what `doctor` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalityRule {
    /// A cloud provider's own service: cloud, whatever its address.
    CloudService,
    /// A loopback, private or link-local address.
    LocalAddress(std::net::IpAddr),
    /// A public address.
    PublicAddress(std::net::IpAddr),
    /// `localhost`, or a `.local` (mDNS) name.
    LocalName,
    /// Named in `llm.local_hosts` by the owner.
    Declared,
    /// The name resolves only to loopback or private addresses.
    ResolvesLocal(Vec<std::net::IpAddr>),
    /// The name resolves (also) to a public address.
    ResolvesPublic(std::net::IpAddr),
    /// The name could not be resolved, so it cannot be shown to be local.
    Unresolved(String),
    /// The URL has no host that can be read.
    BadUrl(String),
}

impl LocalityRule {
    pub fn locality(&self) -> Locality {
        match self {
            LocalityRule::LocalAddress(_)
            | LocalityRule::LocalName
            | LocalityRule::Declared
            | LocalityRule::ResolvesLocal(_) => Locality::Local,
            LocalityRule::CloudService
            | LocalityRule::PublicAddress(_)
            | LocalityRule::ResolvesPublic(_)
            | LocalityRule::Unresolved(_)
            | LocalityRule::BadUrl(_) => Locality::Cloud,
        }
    }
}

impl std::fmt::Display for LocalityRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalityRule::CloudService => write!(f, "a cloud provider's service"),
            LocalityRule::LocalAddress(ip) => write!(f, "{ip} is a loopback or private address"),
            LocalityRule::PublicAddress(ip) => write!(f, "{ip} is a public address"),
            LocalityRule::LocalName => write!(f, "a name of this machine or the local network"),
            LocalityRule::Declared => write!(f, "declared local in llm.local_hosts"),
            LocalityRule::ResolvesLocal(ips) => {
                let ips: Vec<String> = ips.iter().map(ToString::to_string).collect();
                write!(f, "resolves only to private addresses ({})", ips.join(", "))
            }
            LocalityRule::ResolvesPublic(ip) => write!(
                f,
                "resolves to the public address {ip} (add it to llm.local_hosts if it is yours)"
            ),
            LocalityRule::Unresolved(why) => write!(
                f,
                "does not resolve ({why}); add it to llm.local_hosts if it is yours"
            ),
            LocalityRule::BadUrl(why) => write!(f, "the URL cannot be read ({why})"),
        }
    }
}

/// Loopback, private (RFC 1918, IPv6 unique-local) or link-local: an
/// address on this machine or the owner's own network.
pub fn is_local_ip(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_local_ip(IpAddr::V4(v4)),
            None => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
        },
    }
}

/// Decides whether a chat server at `host` is local. `declared` are the
/// owner's `llm.local_hosts` (names or addresses, any case); `resolve`
/// looks a name up (the caller's I/O; only called for names that no other
/// rule decides). A name is local only if every address it resolves to is.
pub fn judge_host(
    host: &Host,
    declared: &[String],
    resolve: impl FnOnce(&str) -> Result<Vec<std::net::IpAddr>, String>,
) -> LocalityRule {
    let named = |s: &str| declared.iter().any(|d| d.trim().eq_ignore_ascii_case(s));
    match host {
        Host::Ip(ip) if is_local_ip(*ip) => LocalityRule::LocalAddress(*ip),
        Host::Ip(ip) if named(&ip.to_string()) => LocalityRule::Declared,
        Host::Ip(ip) => LocalityRule::PublicAddress(*ip),
        Host::Name(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if named(&name) {
                return LocalityRule::Declared;
            }
            if name == "localhost" || name.ends_with(".localhost") || name.ends_with(".local") {
                return LocalityRule::LocalName;
            }
            match resolve(&name) {
                Err(why) => LocalityRule::Unresolved(why),
                Ok(ips) if ips.is_empty() => LocalityRule::Unresolved("no addresses".into()),
                Ok(ips) => match ips.iter().find(|ip| !is_local_ip(**ip)) {
                    Some(public) => LocalityRule::ResolvesPublic(*public),
                    None => LocalityRule::ResolvesLocal(ips),
                },
            }
        }
    }
}

/// Splits `llm.local_hosts` ("ollama, gpu-box.lan") into names.
pub fn declared_hosts(list: Option<&str>) -> Vec<String> {
    list.unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod locality_tests {
    use super::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn no_dns(_: &str) -> Result<Vec<IpAddr>, String> {
        Err("not looked up".into())
    }

    #[test]
    fn addresses_on_this_machine_or_a_private_network_are_local() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.10",
            "172.16.0.5",
            "169.254.1.1",
            "::1",
            "fd00::7",
            "fe80::1",
            "::ffff:192.168.0.2",
        ] {
            let r = judge_host(&Host::Ip(ip(a)), &[], no_dns);
            assert_eq!(r.locality(), Locality::Local, "{a}: {r}");
        }
        for a in ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "100.64.0.1"] {
            let r = judge_host(&Host::Ip(ip(a)), &[], no_dns);
            assert_eq!(r.locality(), Locality::Cloud, "{a}: {r}");
        }
    }

    #[test]
    fn a_compose_service_name_is_local_when_it_resolves_to_a_private_address() {
        let r = judge_host(&Host::Name("ollama".into()), &[], |n| {
            assert_eq!(n, "ollama");
            Ok(vec![ip("172.18.0.3")])
        });
        assert_eq!(r, LocalityRule::ResolvesLocal(vec![ip("172.18.0.3")]));
        assert_eq!(r.locality(), Locality::Local);
    }

    #[test]
    fn a_name_with_any_public_address_or_none_at_all_is_cloud() {
        let mixed = judge_host(&Host::Name("box".into()), &[], |_| {
            Ok(vec![ip("192.168.1.2"), ip("203.0.113.9")])
        });
        assert_eq!(mixed, LocalityRule::ResolvesPublic(ip("203.0.113.9")));
        let unknown = judge_host(
            &Host::Name("nowhere".into()),
            &[],
            |_| Err("unknown".into()),
        );
        assert_eq!(unknown.locality(), Locality::Cloud);
    }

    #[test]
    fn the_owner_can_declare_a_host_local_and_is_not_asked_to_resolve_it() {
        let declared = declared_hosts(Some(" Ollama , 100.64.0.1 "));
        let r = judge_host(&Host::Name("ollama".into()), &declared, |_| {
            panic!("a declared name needs no lookup")
        });
        assert_eq!(r, LocalityRule::Declared);
        let r = judge_host(&Host::Ip(ip("100.64.0.1")), &declared, no_dns);
        assert_eq!(r, LocalityRule::Declared);
        assert_eq!(
            judge_host(&Host::Name("gpu.local".into()), &[], no_dns),
            LocalityRule::LocalName
        );
    }
}
