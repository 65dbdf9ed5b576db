"""The audit package's subpackages import one way: verification reads storage and keys, storage uses
keys, and keys stand on the core alone; none of them reaches back, even through a core module."""

from test_import_structure import _cycles, _imports, _modules

SUBPACKAGES = ("keys", "storage", "verification", "witness")
ONE_WAY = {("verification", "storage"), ("verification", "keys"), ("storage", "keys"), ("witness", "keys")}


def _unit(module: str) -> str:
    """A subpackage counts as one unit; a core module as itself."""
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[2] in SUBPACKAGES else module


def _audit_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if name.startswith("mlobs.audit."):
            here = _unit(name)
            found = {_unit(m) for m in _imports(path, modules) if m.startswith("mlobs.audit.")}
            graph.setdefault(here, set()).update(found - {here})
    for targets in list(graph.values()):
        for target in targets:
            graph.setdefault(target, set())
    return graph


def test_no_audit_subpackage_taken_whole_is_in_an_import_cycle_with_the_core_modules():
    assert _cycles(_audit_graph()) == []


def test_subpackages_import_each_other_only_from_verification_to_storage_to_keys():
    graph = _audit_graph()
    between = {(a, b) for a, targets in graph.items() for b in targets if a in SUBPACKAGES and b in SUBPACKAGES}
    assert between <= ONE_WAY, between - ONE_WAY


def test_every_module_of_the_package_is_counted_in_a_unit():
    units = set(_audit_graph())
    assert set(SUBPACKAGES) <= units and "mlobs.audit.log" in units and "mlobs.audit.record" in units
