"""The Shadowmap agent as a Windows service (pywin32), installed by install.ps1.

The service runs `AgentService.run()` on a worker thread and stops it when the Service
Control Manager asks. Settings come from %PROGRAMDATA%\\Shadowmap\\agent.toml.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import servicemanager  # type: ignore[import-not-found]
import win32event  # type: ignore[import-not-found]
import win32service  # type: ignore[import-not-found]
import win32serviceutil  # type: ignore[import-not-found]

from agent.config import load_settings
from agent.service import AgentService

CONFIG = Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "Shadowmap" / "agent.toml"


class ShadowmapAgentService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
    _svc_name_ = "ShadowmapAgent"
    _svc_display_name_ = "Shadowmap agent"
    _svc_description_ = "Finds the AI services used on this machine and reports them."

    def __init__(self, args: list[str]) -> None:
        super().__init__(args)
        self._stopped = win32event.CreateEvent(None, 0, 0, None)
        self._agent: AgentService | None = None

    def SvcStop(self) -> None:
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
        if self._agent is not None:
            self._agent.stop()
        win32event.SetEvent(self._stopped)

    def SvcDoRun(self) -> None:
        servicemanager.LogInfoMsg("Shadowmap agent starting")
        settings = load_settings(CONFIG if CONFIG.exists() else None)
        self._agent = AgentService(settings)
        worker = threading.Thread(target=self._agent.run, name="shadowmap-agent", daemon=True)
        worker.start()
        win32event.WaitForSingleObject(self._stopped, win32event.INFINITE)
        worker.join(timeout=30)
        servicemanager.LogInfoMsg("Shadowmap agent stopped")


if __name__ == "__main__":
    win32serviceutil.HandleCommandLine(ShadowmapAgentService)
