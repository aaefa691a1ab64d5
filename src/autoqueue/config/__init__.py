"""The workspace configuration, ``autoqueue.toml`` in the home directory: its models live in the
modules of this package, and every name callers use is imported from here."""

from autoqueue.config.base import Strict
from autoqueue.config.channels import ChannelProfile, TaskSettings
from autoqueue.config.file import (
    DEFAULT_CONFIG_TEXT,
    Config,
    LeaseConfig,
    RetryConfig,
    WorkerConfig,
    load_config,
)
from autoqueue.config.notify import DEFAULT_EVENTS, NotifyConfig, NotifyEvent
from autoqueue.config.services import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_LLM_MODEL,
    DEFAULT_VIDEO_MODEL,
    KEY_ENV,
    GoogleImageConfig,
    ImageModelConfig,
    LlmConfig,
    MediaConfig,
    Provider,
    ProviderConfig,
    ProvidersConfig,
    StockConfig,
    StockSource,
    VideoModelConfig,
    YouTubeConfig,
)
from autoqueue.config.stages import (
    DEFAULT_HANDLERS,
    DEFAULT_QP,
    EXTRA_HANDLERS,
    Handler,
    QueueConfig,
    StageConfig,
)
from autoqueue.config.voices import (
    DEFAULT_NARRATION,
    VoiceEngineConfig,
    VoiceEngineName,
    VoicesConfig,
)
from autoqueue.layout import CONFIG_NAME

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_CONFIG_TEXT",
    "DEFAULT_EVENTS",
    "DEFAULT_HANDLERS",
    "DEFAULT_IMAGE_MODEL",
    "DEFAULT_LLM_MODEL",
    "DEFAULT_NARRATION",
    "DEFAULT_QP",
    "DEFAULT_VIDEO_MODEL",
    "EXTRA_HANDLERS",
    "KEY_ENV",
    "ChannelProfile",
    "Config",
    "GoogleImageConfig",
    "Handler",
    "ImageModelConfig",
    "LeaseConfig",
    "LlmConfig",
    "MediaConfig",
    "NotifyConfig",
    "NotifyEvent",
    "Provider",
    "ProviderConfig",
    "ProvidersConfig",
    "QueueConfig",
    "RetryConfig",
    "StageConfig",
    "StockConfig",
    "StockSource",
    "Strict",
    "TaskSettings",
    "VideoModelConfig",
    "VoiceEngineConfig",
    "VoiceEngineName",
    "VoicesConfig",
    "WorkerConfig",
    "YouTubeConfig",
    "load_config",
]
