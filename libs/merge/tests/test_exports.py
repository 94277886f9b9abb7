"""The public surface is `syncmesh_merge.__all__`, and it is honest."""

import importlib
import types

import syncmesh_merge

MODULES = ["clock", "crdt", "errors", "ot", "patch", "strategies", "threeway", "values"]


def test_every_exported_name_exists() -> None:
    for name in syncmesh_merge.__all__:
        assert hasattr(syncmesh_merge, name), name
    assert len(set(syncmesh_merge.__all__)) == len(syncmesh_merge.__all__)


def test_every_public_name_is_exported() -> None:
    public = {
        name
        for name, value in vars(syncmesh_merge).items()
        if not name.startswith("_") and not (isinstance(value, types.ModuleType) and name != "ot")
    }
    assert public == set(syncmesh_merge.__all__)


def test_module_surfaces_are_declared_and_importable() -> None:
    for module_name in MODULES:
        module = importlib.import_module(f"syncmesh_merge.{module_name}")
        for name in module.__all__:
            assert hasattr(module, name), f"{module_name}.{name}"


def test_errors_share_one_base_and_shadow_no_builtins() -> None:
    import builtins

    from syncmesh_merge import errors

    for name in errors.__all__:
        error = getattr(errors, name)
        assert issubclass(error, syncmesh_merge.MergeError)
        assert not hasattr(builtins, name), name
