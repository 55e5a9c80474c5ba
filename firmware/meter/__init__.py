"""The meter application: token acceptance rules, credit, load switch, key change, lockout (pure logic)."""
