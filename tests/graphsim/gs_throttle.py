"""Identity-and-access throttling (reference graph-api.md section 4).

Token buckets, refilled continuously:
  app+tenant   ResourceUnits  S 3,500 / M 5,000 / L 8,000 per 10 s
  app+tenant   writes         3,000 per 150 s
  app          ResourceUnits  150,000 per 20 s (all tenants)
  app          writes         35,000 per 300 s (all tenants)
  tenant       writes         18,000 per 300 s (all apps)
Windows are multiplied by --time-scale. A throttled call still counts against
usage (the bucket may go into debt, down to minus one capacity); Retry-After is
the time until the bucket holds the cost again, in (fractional) seconds.
"""
import threading

DEFAULTS = {
    "ru_budget": {"S": 3500, "M": 5000, "L": 8000},
    "ru_window": 10.0,
    "write_limit": 3000,
    "write_window": 150.0,
    "app_ru_budget": 150000,
    "app_ru_window": 20.0,
    "app_write_limit": 35000,
    "app_write_window": 300.0,
    "tenant_write_limit": 18000,
    "tenant_write_window": 300.0,
    "throttled_calls_count": True,
}


class Bucket:
    def __init__(self, capacity, window_seconds, now):
        self.capacity = float(capacity)
        self.window = float(window_seconds)
        self.tokens = float(capacity)
        self.t = now

    @property
    def rate(self):
        return self.capacity / self.window if self.window > 0 else float("inf")

    def refill(self, now):
        if now > self.t:
            self.tokens = min(self.capacity, self.tokens + (now - self.t) * self.rate)
            self.t = now

    def usage(self):
        return (self.capacity - self.tokens) / self.capacity if self.capacity else 0.0

    def wait_for(self, cost):
        deficit = cost - self.tokens
        if deficit <= 0:
            return 0.0
        return deficit / self.rate


def size_class(user_count):
    if user_count < 50:
        return "S"
    if user_count <= 500:
        return "M"
    return "L"


def request_cost(method, kind, opts):
    """ResourceUnit cost and write flag of one request (reference section 4).
    kind: 'users' for anything under /users (list, by id, delta), 'other' for
    other identity reads, 'write' for POST/PATCH/PUT/DELETE."""
    if method in ("POST", "PATCH", "PUT", "DELETE"):
        return 1, True
    cost = 2 if kind == "users" else 1
    if "$select" in opts:
        cost -= 1
    if "$expand" in opts:
        cost += 1
    top = opts.get("$top")
    if top is not None:
        try:
            if int(top) < 20:
                cost -= 1
        except ValueError:
            pass
    return max(1, cost), False


class Throttler:
    def __init__(self, clock, cfg):
        self.clock = clock
        self.cfg = dict(DEFAULTS)
        for k, v in (cfg or {}).items():
            if k == "ru_budget":
                b = dict(DEFAULTS["ru_budget"])
                b.update(v)
                self.cfg[k] = b
            else:
                self.cfg[k] = v
        self.lock = threading.Lock()
        self.buckets = {}

    def reconfigure(self, cfg):
        with self.lock:
            for k, v in cfg.items():
                if k == "ru_budget":
                    self.cfg[k].update(v)
                else:
                    self.cfg[k] = v
            self.buckets.clear()

    def _bucket(self, key, capacity, window, now):
        b = self.buckets.get(key)
        cap = float(capacity)
        win = self.clock.scaled(float(window))
        if b is None or b.capacity != cap or b.window != win:
            b = Bucket(cap, win, now)
            self.buckets[key] = b
        b.refill(now)
        return b

    def charge(self, app_id, tenant, cost, is_write):
        """Charge one request. Returns a dict:
        {"ok": bool, "ru": cost, "percentage": float|None,
         "retry_after": float, "scope": str, "information": str}"""
        now = self.clock.now()
        c = self.cfg
        size = tenant.size_class()
        with self.lock:
            checks = [
                (self._bucket(("ta-ru", app_id, tenant.id), c["ru_budget"][size], c["ru_window"], now),
                 cost, "Tenant_Application/%s/%s/%s" % ("ReadWrite" if is_write else "Read", app_id, tenant.id),
                 "ResourceUnitLimitExceeded"),
                (self._bucket(("a-ru", app_id), c["app_ru_budget"], c["app_ru_window"], now),
                 cost, "Application/%s/%s/%s" % ("ReadWrite" if is_write else "Read", app_id, tenant.id),
                 "ResourceUnitLimitExceeded"),
            ]
            if is_write:
                checks += [
                    (self._bucket(("ta-w", app_id, tenant.id), c["write_limit"], c["write_window"], now),
                     1, "Tenant_Application/Write/%s/%s" % (app_id, tenant.id), "WriteLimitExceeded"),
                    (self._bucket(("a-w", app_id), c["app_write_limit"], c["app_write_window"], now),
                     1, "Application/Write/%s/%s" % (app_id, tenant.id), "WriteLimitExceeded"),
                    (self._bucket(("t-w", tenant.id), c["tenant_write_limit"], c["tenant_write_window"], now),
                     1, "Tenant/Write/%s/%s" % (app_id, tenant.id), "WriteLimitExceeded"),
                ]
            blocked = [(b, amt, scope, info) for (b, amt, scope, info) in checks if b.tokens < amt]
            if blocked:
                if c["throttled_calls_count"]:
                    for b, amt, _, _ in checks:
                        b.tokens = max(-b.capacity, b.tokens - amt)
                worst = max(blocked, key=lambda x: x[0].wait_for(x[1]))
                retry = max(0.001, worst[0].wait_for(worst[1]))
                # after the debt above, the bucket needs the cost on top of the debt
                return {"ok": False, "ru": cost, "retry_after": retry, "scope": worst[2],
                        "information": worst[3],
                        "percentage": max(b.usage() for b, _, _, _ in checks)}
            for b, amt, _, _ in checks:
                b.tokens -= amt
            pct = max(b.usage() for b, _, _, _ in checks)
            return {"ok": True, "ru": cost, "percentage": pct}

    def state(self):
        now = self.clock.now()
        out = []
        with self.lock:
            for key, b in self.buckets.items():
                b.refill(now)
                out.append({"bucket": "/".join(str(k) for k in key), "capacity": b.capacity,
                            "window_seconds": b.window, "tokens": round(b.tokens, 3),
                            "usage": round(b.usage(), 4)})
        return out
