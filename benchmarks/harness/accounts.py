"""Creating the benchmark's account on a podplus server and logging it in."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "benchmark password"


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register(base_url: str, *, email: str = BENCH_EMAIL, password: str = BENCH_PASSWORD) -> Account:
    with httpx.Client(base_url=base_url, timeout=30.0) as http:
        created = http.post("/api/users", json={"email": email, "password": password})
        if created.status_code not in (201, 409):
            raise RuntimeError(f"POST /api/users answered {created.status_code}: {created.text}")
        issued = http.post("/api/auth/token", data={"username": email, "password": password})
        issued.raise_for_status()
        token = issued.json()["access_token"]
        me = http.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
        me.raise_for_status()
    return Account(email=email, password=password, token=token)
