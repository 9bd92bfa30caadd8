"""Settings: defaults that make the demo run with nothing configured, overridable by a YAML file
(`gateway serve --config FILE`) and by `GATEWAY_*` environment variables (which win)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


def _default_policies_dir() -> Path:
    """`policies/` beside the source tree when run from a checkout, else the working directory's."""
    beside = Path(__file__).resolve().parents[1] / "policies"
    return beside if beside.is_dir() else Path("policies")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="forbid")

    mode: Literal["demo", "production"] = "demo"
    data_dir: Path = Path("var")
    policies_dir: Path = Field(default_factory=_default_policies_dir)
    host: str = "127.0.0.1"
    port: int = 8000

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls))


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Explicit arguments win over GATEWAY_* variables, which win over the config file."""
    if config_file is not None and not Path(config_file).is_file():
        raise FileNotFoundError(f"config file {config_file} does not exist")
    cls = Settings
    if config_file is not None:

        class FileSettings(Settings):
            model_config = SettingsConfigDict(yaml_file=config_file)

        cls = FileSettings
    return cls(**{k: v for k, v in overrides.items() if v is not None})
