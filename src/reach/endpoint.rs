//! What traffic can go between: pods (by namespace, labels and container
//! ports) and addresses outside the pod network.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The protocol of a port entry; TCP when unset, as the API defaults it.
    pub fn parse(text: Option<&str>) -> Option<Protocol> {
        match text.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// A port something listens on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub number: u32,
    pub protocol: Protocol,
    /// The container port's name, which a policy may use instead of the number.
    pub name: Option<String>,
}

impl Port {
    pub fn tcp(number: u32, name: Option<&str>) -> Port {
        Port {
            number,
            protocol: Protocol::Tcp,
            name: name.map(String::from),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.protocol.name())?;
        if let Some(name) = &self.name {
            write!(f, " ({name})")?;
        }
        Ok(())
    }
}

/// Where an endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Pods in the cluster's pod network.
    Pods {
        namespace: String,
        labels: BTreeMap<String, String>,
    },
    /// An address outside the pod network: ipBlock peers match it.
    Address(Ipv4Addr),
}

/// Something that sends or receives traffic, named for the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub place: Place,
    /// Ports it serves; empty for what only sends.
    pub ports: Vec<Port>,
}

impl Endpoint {
    pub fn namespace(&self) -> Option<&str> {
        match &self.place {
            Place::Pods { namespace, .. } => Some(namespace),
            Place::Address(_) => None,
        }
    }
}
