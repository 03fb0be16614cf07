//! The permission model: grants, checks and intersection (host logic, no wasm).

use moonbox::{ComponentAccess, Denied, EntityFacts, EntityScope, Operation, Permissions};

struct Facts {
    spawned: bool,
    tags: &'static [&'static str],
}

impl EntityFacts for Facts {
    fn spawned_by_script(&self) -> bool {
        self.spawned
    }
    fn has_component(&self, name: &str) -> bool {
        self.tags.contains(&name)
    }
}

fn grant() -> Permissions {
    Permissions {
        spawn: true,
        ..Permissions::none()
    }
    .with_component("Position", ComponentAccess::READ)
    .with_component("Velocity", ComponentAccess::READ_WRITE)
}

#[test]
fn every_operation_is_checked_against_the_grant() {
    let p = grant();
    let cases = [
        (Operation::Read("Position"), true),
        (Operation::Write("Position"), false),
        (Operation::Read("Velocity"), true),
        (Operation::Write("Velocity"), true),
        (Operation::Read("Health"), false),
        (Operation::Write("Health"), false),
        (Operation::Spawn, true),
        (Operation::Despawn, false),
    ];
    for (operation, allowed) in cases {
        assert_eq!(p.check(operation).is_ok(), allowed, "{operation:?}");
    }
    assert_eq!(
        p.check(Operation::Write("Position")),
        Err(Denied::Component {
            component: "Position".into(),
            access: "write"
        })
    );
}

#[test]
fn nothing_is_granted_by_default() {
    let p = Permissions::none();
    for operation in [
        Operation::Read("Position"),
        Operation::Write("Position"),
        Operation::Spawn,
        Operation::Despawn,
    ] {
        assert!(p.check(operation).is_err(), "{operation:?}");
    }
    assert_eq!(p.scope, EntityScope::Spawned);
}

#[test]
fn entity_scope_limits_which_entities_can_be_touched() {
    let own = Facts {
        spawned: true,
        tags: &[],
    };
    let tagged = Facts {
        spawned: false,
        tags: &["Modded"],
    };
    let other = Facts {
        spawned: false,
        tags: &[],
    };
    let mut p = grant();
    for (scope, expect) in [
        (EntityScope::All, [true, true, true]),
        (EntityScope::Spawned, [true, false, false]),
        (EntityScope::Tagged("Modded".into()), [true, true, false]),
    ] {
        p.scope = scope.clone();
        let got = [&own, &tagged, &other].map(|facts| {
            p.check_entity(Operation::Read("Position"), 7, facts)
                .is_ok()
        });
        assert_eq!(got, expect, "{scope:?}");
    }
    p.scope = EntityScope::Spawned;
    assert_eq!(
        p.check_entity(Operation::Read("Position"), 7, &other),
        Err(Denied::OutOfScope { entity: 7 })
    );
    assert!(
        p.check_entity(Operation::Write("Position"), 7, &own)
            .is_err(),
        "scope does not widen access"
    );
}

#[test]
fn a_mod_gets_at_most_what_both_request_and_policy_allow() {
    let requested = Permissions {
        spawn: true,
        despawn: true,
        scope: EntityScope::All,
        ..Permissions::none()
    }
    .with_component("Position", ComponentAccess::READ_WRITE)
    .with_component("Health", ComponentAccess::READ);
    let policy = Permissions {
        spawn: true,
        despawn: false,
        scope: EntityScope::Tagged("Modded".into()),
        ..Permissions::none()
    }
    .with_component("Position", ComponentAccess::READ)
    .with_component("Secret", ComponentAccess::READ_WRITE);
    let granted = requested.intersect(&policy);
    assert_eq!(granted.component("Position"), ComponentAccess::READ);
    assert_eq!(granted.component("Health"), ComponentAccess::default());
    assert_eq!(
        granted.component("Secret"),
        ComponentAccess::default(),
        "never more than requested"
    );
    assert!(granted.spawn && !granted.despawn);
    assert_eq!(granted.scope, EntityScope::Tagged("Modded".into()));
    assert_eq!(
        granted.components().map(|(n, _)| n).collect::<Vec<_>>(),
        ["Position"]
    );
    let disjoint = Permissions {
        scope: EntityScope::Tagged("A".into()),
        ..Permissions::none()
    }
    .intersect(&Permissions {
        scope: EntityScope::Tagged("B".into()),
        ..Permissions::none()
    });
    assert_eq!(disjoint.scope, EntityScope::Spawned);
}
