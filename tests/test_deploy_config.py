"""How settings reach the Serve replicas locally (``make serve``) — and that k8s never gets dev login.

``serve_apps/deploy_config.py`` writes the deployed config: ``serve_config.yaml`` plus chosen
variables in the application's ``runtime_env``; these tests check what it writes, what it refuses,
that the Makefile uses it, and that no rendered Kubernetes manifest enables ``AUTH_DEV_LOGIN``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from serve_apps.deploy_config import DeployConfigError, main, pick_env, with_env, write_deploy_config

REPO = Path(__file__).resolve().parents[1]
SERVE_CONFIG = REPO / "serve_apps" / "serve_config.yaml"


def test_written_config_is_the_file_plus_the_named_settings(tmp_path: Path) -> None:
    out = tmp_path / "deploy.yaml"
    env = {"FINRAY_HOME": str(tmp_path / "home"), "AUTH_DEV_LOGIN": "true", "AUTH_ADMIN_USER_IDS": "U0000001"}
    write_deploy_config(SERVE_CONFIG, out, env)
    written = yaml.safe_load(out.read_text())
    ServeDeploySchema.model_validate(written)  # still a valid Serve config
    original = yaml.safe_load(SERVE_CONFIG.read_text())
    [app] = written["applications"]
    assert app["runtime_env"] == {"env_vars": env}
    app.pop("runtime_env")
    original["applications"][0].pop("runtime_env")
    assert written == original  # nothing else changed
    first = out.read_bytes()
    write_deploy_config(SERVE_CONFIG, out, env)
    assert out.read_bytes() == first  # the same settings deploy the same config (idempotent)


def test_settings_in_the_file_are_overridden_not_dropped() -> None:
    cfg = {"applications": [{"name": "a", "import_path": "m:app",
                             "runtime_env": {"env_vars": {"KEEP": "1", "AUTH_DEV_LOGIN": "false"}, "pip": ["x"]}}]}
    out = with_env(cfg, {"AUTH_DEV_LOGIN": "true"})
    assert out["applications"][0]["runtime_env"] == {"env_vars": {"KEEP": "1", "AUTH_DEV_LOGIN": "true"}, "pip": ["x"]}
    assert cfg["applications"][0]["runtime_env"]["env_vars"]["AUTH_DEV_LOGIN"] == "false"  # input untouched


def test_names_values_and_paths(tmp_path: Path) -> None:
    environ = {"AUTH_DEV_LOGIN": "true", "FINRAY_HOME": "rel/home"}
    env = pick_env(["AUTH_DEV_LOGIN", "AUTH_ADMIN_USER_IDS=U0000002", "FINRAY_HOME"], environ)
    assert env["AUTH_DEV_LOGIN"] == "true" and env["AUTH_ADMIN_USER_IDS"] == "U0000002"
    assert Path(env["FINRAY_HOME"]).is_absolute()  # replicas do not run in this directory
    with pytest.raises(DeployConfigError, match="AUTH_ADMIN_USER_IDS: not set"):
        pick_env(["AUTH_ADMIN_USER_IDS"], environ)
    for secret in ("AUTH_JWT_SECRET", "GOOGLE_API_KEY", "KAKAO_CLIENT_SECRET", "REDIS_URL", "MONGODB_URI",
                   "SLACK_WEBHOOK_URL"):
        with pytest.raises(DeployConfigError, match="looks like a credential"):
            pick_env([f"{secret}=x"], {})
    with pytest.raises(DeployConfigError, match="upper-case"):
        pick_env(["auth_dev_login=true"], {})


def test_a_bad_setting_stops_the_deploy_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "deploy.yaml"
    code = main([str(SERVE_CONFIG), "-o", str(out), "--env", "AUTH_DEV_LOGIN=maybe"])
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: AUTH_DEV_LOGIN:") and "\n" not in err
    assert main([str(tmp_path / "missing.yaml"), "-o", str(out), "--env", "AUTH_DEV_LOGIN=true"]) == 2


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_serve_deploys_the_written_config_with_dev_login(tmp_path: Path) -> None:
    """`make -n` (print, do not run): the deploy carries dev login and FINRAY_HOME explicitly."""
    home = tmp_path / "home"

    def dry_run(target: str, **env: str) -> str:
        import os

        result = subprocess.run(
            ["make", "-n", "-C", str(REPO), target], capture_output=True, text=True, timeout=60,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}, "FINRAY_HOME": str(home), **env},
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    out = dry_run("serve")
    assert f"serve_apps.deploy_config serve_apps/serve_config.yaml -o {home}/serve_config.deploy.yaml" in out
    assert "--env FINRAY_HOME --env AUTH_DEV_LOGIN --env AUTH_ADMIN_USER_IDS" in out
    assert f"serve deploy {home}/serve_config.deploy.yaml" in out
    assert 'if [ "true" = true ]' in out  # dev login on by default for the local demo
    assert 'if [ "false" = true ]' in dry_run("serve", AUTH_DEV_LOGIN="false")  # the shell decides
    up = dry_run("up")
    assert f"test -f {home}/models/latest || {{" in up  # indicators + training only without a model


def test_no_kubernetes_manifest_enables_dev_login() -> None:
    rendered = list((REPO / "k8s" / "rendered").rglob("*.yaml"))
    assert rendered
    for path in rendered:
        assert "AUTH_DEV_LOGIN" not in path.read_text(encoding="utf-8"), path
    from k8s.environments import ENVIRONMENTS

    for env in ENVIRONMENTS.values():
        assert env.settings.get("AUTH_DEV_LOGIN", "false") == "false", env.name
