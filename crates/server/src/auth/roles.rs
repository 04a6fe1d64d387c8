//! Who may do what: the roles, the permissions, and the one matrix between them.
//!
//! Every check in the server asks [`allows`]; nothing else decides. The same matrix is a
//! table in `docs/ARCHITECTURE.md`, and a test walks every cell so the two can't drift
//! apart unnoticed.

use std::fmt;
use std::str::FromStr;

/// A user's (or API key's) role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Runs Switchboard: no tenant of its own; operator tools.
    Operator,
    /// Administers one agency and all its locations.
    AgencyAdmin,
    /// Administers one location.
    LocationAdmin,
    /// Works one location's conversations.
    Agent,
}

/// Something a request may want to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ViewConversations,
    SendMessages,
    ManageContacts,
    ManageChannels,
    ManageLocations,
    ManageUsers,
    ManageApiKeys,
    ViewAuditLog,
    ReplayDeadJobs,
    ManageAgencies,
    RotateKeys,
    /// The agency's white-label brand (name, logo, colours).
    ManageBrand,
    /// A location's AI switch, quiet hours and time zone.
    ManageAi,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Operator,
        Role::AgencyAdmin,
        Role::LocationAdmin,
        Role::Agent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::AgencyAdmin => "agency_admin",
            Role::LocationAdmin => "location_admin",
            Role::Agent => "agent",
        }
    }

    /// Whether a holder of `self` may hand `other` to a user or API key: never a role
    /// above one's own, and operators are made only by operators (the CLI).
    pub fn may_grant(self, other: Role) -> bool {
        match self {
            Role::Operator => true,
            Role::AgencyAdmin => {
                matches!(other, Role::AgencyAdmin | Role::LocationAdmin | Role::Agent)
            }
            Role::LocationAdmin => matches!(other, Role::LocationAdmin | Role::Agent),
            Role::Agent => false,
        }
    }

    /// Whether a user of this role may have this place: agency admins work agency-wide,
    /// location admins and agents in one location. `Err` says which rule fails.
    pub fn fits_place(self, at_location: bool) -> Result<(), Misplaced> {
        match (self, at_location) {
            (Role::AgencyAdmin, true) => Err(Misplaced::AgencyRoleAtLocation),
            (Role::LocationAdmin | Role::Agent, false) => Err(Misplaced::LocationRoleAgencyWide),
            _ => Ok(()),
        }
    }
}

/// Why a role doesn't fit a user's place (see [`Role::fits_place`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misplaced {
    AgencyRoleAtLocation,
    LocationRoleAgencyWide,
}

impl Permission {
    pub const ALL: [Permission; 13] = [
        Permission::ViewConversations,
        Permission::SendMessages,
        Permission::ManageContacts,
        Permission::ManageChannels,
        Permission::ManageLocations,
        Permission::ManageUsers,
        Permission::ManageApiKeys,
        Permission::ViewAuditLog,
        Permission::ReplayDeadJobs,
        Permission::ManageAgencies,
        Permission::RotateKeys,
        Permission::ManageBrand,
        Permission::ManageAi,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewConversations => "view_conversations",
            Permission::SendMessages => "send_messages",
            Permission::ManageContacts => "manage_contacts",
            Permission::ManageChannels => "manage_channels",
            Permission::ManageLocations => "manage_locations",
            Permission::ManageUsers => "manage_users",
            Permission::ManageApiKeys => "manage_api_keys",
            Permission::ViewAuditLog => "view_audit_log",
            Permission::ReplayDeadJobs => "replay_dead_jobs",
            Permission::ManageAgencies => "manage_agencies",
            Permission::RotateKeys => "rotate_keys",
            Permission::ManageBrand => "manage_brand",
            Permission::ManageAi => "manage_ai",
        }
    }
}

/// The matrix: whether `role` holds `permission`. Tenant permissions only mean anything
/// with a tenant scope, which operators don't have, so operators hold only the
/// operator's own.
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        ViewConversations | SendMessages => matches!(role, AgencyAdmin | LocationAdmin | Agent),
        ManageContacts | ManageChannels | ManageUsers | ManageApiKeys | ManageAi => {
            matches!(role, AgencyAdmin | LocationAdmin)
        }
        ManageLocations | ManageBrand => matches!(role, AgencyAdmin),
        ViewAuditLog | ReplayDeadJobs => matches!(role, Operator | AgencyAdmin),
        ManageAgencies | RotateKeys => matches!(role, Operator),
    }
}

/// A role word that isn't one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a role (operator, agency_admin, location_admin, agent)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matrix as documented in docs/ARCHITECTURE.md: one row per permission, columns
    /// operator, agency admin, location admin, agent.
    const DOCUMENTED: [(Permission, [bool; 4]); 13] = [
        (Permission::ViewConversations, [false, true, true, true]),
        (Permission::SendMessages, [false, true, true, true]),
        (Permission::ManageContacts, [false, true, true, false]),
        (Permission::ManageChannels, [false, true, true, false]),
        (Permission::ManageLocations, [false, true, false, false]),
        (Permission::ManageUsers, [false, true, true, false]),
        (Permission::ManageApiKeys, [false, true, true, false]),
        (Permission::ViewAuditLog, [true, true, false, false]),
        (Permission::ReplayDeadJobs, [true, true, false, false]),
        (Permission::ManageAgencies, [true, false, false, false]),
        (Permission::RotateKeys, [true, false, false, false]),
        (Permission::ManageBrand, [false, true, false, false]),
        (Permission::ManageAi, [false, true, true, false]),
    ];

    #[test]
    fn every_cell_of_the_matrix_is_as_documented() {
        assert_eq!(DOCUMENTED.len(), Permission::ALL.len());
        for (permission, row) in DOCUMENTED {
            for (role, expected) in Role::ALL.into_iter().zip(row) {
                assert_eq!(
                    allows(role, permission),
                    expected,
                    "{role} / {}",
                    permission.as_str()
                );
            }
        }
    }

    #[test]
    fn the_documented_table_matches_the_code() {
        let doc = include_str!("../../../../docs/ARCHITECTURE.md");
        for permission in Permission::ALL {
            let cells: Vec<&str> = Role::ALL
                .into_iter()
                .map(|role| {
                    if allows(role, permission) {
                        "yes"
                    } else {
                        "—"
                    }
                })
                .collect();
            let line = format!("| `{}` | {} |", permission.as_str(), cells.join(" | "));
            assert!(doc.contains(&line), "docs/ARCHITECTURE.md lacks: {line}");
        }
    }

    #[test]
    fn roles_round_trip_and_grants_never_go_up() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("admin".parse::<Role>().is_err());
        assert!(!Role::Agent.may_grant(Role::Agent));
        assert!(!Role::LocationAdmin.may_grant(Role::AgencyAdmin));
        assert!(!Role::AgencyAdmin.may_grant(Role::Operator));
    }
}
