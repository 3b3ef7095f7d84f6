"""weft.Client against a real weft server, which tests/shell/python_client.sh
starts (with a real `weft tunnel` agent) and describes in the environment:

  WEFT_URL     https://127.0.0.1:PORT      WEFT_CONN   weft://SECRET@...
  WEFT_SERVER_STATE  its state directory   (tls.crt, admin.sock)
  ADMIN_KEY, OPS_KEY, VIEW_KEY             API keys of three roles
  AGENT_DEVICE, AGENT_PUBLIC               the agent's device, its port
  KEY_DIR      where device keys made here go
"""

import io
import os
import ssl
import sys
import time
import unittest

import weft
from weft import cli, login, transport

ENV = os.environ
URL = ENV["WEFT_URL"]
STATE = ENV["WEFT_SERVER_STATE"]
SOCKET = os.path.join(STATE, "admin.sock")
KEYS = ENV["KEY_DIR"]


def pin():
    with open(os.path.join(STATE, "tls.crt")) as f:
        return transport.spki_pin(ssl.PEM_cert_to_DER_cert(f.read()))


def api(key):
    return weft.Client(URL, api_key=key, pin=pin(), timeout=5)


ADMIN = api(ENV["ADMIN_KEY"])


class ApiKeys(unittest.TestCase):
    def test_tls_with_a_pin_lists_the_agents_tunnel(self):
        tunnels = api(ENV["VIEW_KEY"]).tunnels()
        mine = [t for t in tunnels if t.device_id == ENV["AGENT_DEVICE"]]
        self.assertEqual(len(mine), 1, tunnels)
        t = mine[0]
        self.assertTrue(t.id.startswith("t"))
        self.assertEqual(t.transport, "websocket")
        self.assertEqual(t.state, "ready")
        self.assertTrue(t.public_url.endswith(":" + ENV["AGENT_PUBLIC"]))
        self.assertIsInstance(t.traffic, weft.Traffic)
        self.assertIsNone(t.params)  # a transport's keys: its device's only
        one = ADMIN.tunnel(t.id)
        self.assertEqual((one.id, one.local), (t.id, t.local))

    def test_tls_with_the_servers_certificate_as_ca(self):
        c = weft.Client(URL, api_key=ENV["VIEW_KEY"],
                        ca=os.path.join(STATE, "tls.crt"))
        self.assertEqual(c.health().status, "ok")
        self.assertTrue(c.version())
        self.assertTrue(c.devices())

    def test_the_pin_in_the_url(self):
        c = weft.Client(URL + "?pin=" + pin(), api_key=ENV["VIEW_KEY"])
        self.assertTrue(c.tunnels())

    def test_a_wrong_pin_sends_nothing(self):
        wrong = "sha256//" + "A" * 43 + "="
        c = weft.Client(URL, api_key=ENV["ADMIN_KEY"], pin=wrong)
        with self.assertRaises(weft.PinError) as e:
            c.users()
        self.assertIn("nothing was sent", str(e.exception))

    def test_no_ca_the_system_cas_refuse_a_self_signed_server(self):
        with self.assertRaises(weft.ConnectError) as e:
            weft.Client(URL, api_key=ENV["ADMIN_KEY"]).users()
        self.assertIn("not trusted", str(e.exception))

    def test_a_wrong_key_is_the_apis_401(self):
        with self.assertRaises(weft.ApiError) as e:
            api("weft_" + "0" * 60).tunnels()
        self.assertEqual((e.exception.status, e.exception.code),
                         (401, "unauthorized"))
        self.assertTrue(e.exception.message)

    def test_a_viewer_may_not_add_a_device(self):
        with self.assertRaises(weft.ApiError) as e:
            api(ENV["VIEW_KEY"]).add_device("nope")
        self.assertEqual((e.exception.status, e.exception.code),
                         (403, "forbidden"))

    def test_plain_http_on_the_servers_host(self):
        c = weft.Client(URL.replace("https:", "http:"),
                        api_key=ENV["VIEW_KEY"])
        self.assertTrue(c.tunnels())

    def test_the_local_socket_is_an_administrator(self):
        s = weft.Client(socket=SOCKET, timeout=5)
        new = s.add_user("py-otto", "viewer")
        self.assertTrue(new.api_key.startswith("weft_"))
        self.assertNotIn(new.api_key, repr(new))
        self.assertIn("py-otto", [u.name for u in s.users()])
        self.assertEqual(len(api(new.api_key).devices()),
                         len(s.devices()))
        again = s.rotate_user_key("py-otto")
        with self.assertRaises(weft.ApiError) as e:
            api(new.api_key).devices()
        self.assertEqual(e.exception.status, 401)
        api(again.api_key).devices()
        s.remove_user("py-otto")
        self.assertNotIn("py-otto", [u.name for u in s.users()])
        with self.assertRaises(weft.ApiError) as e:
            s.remove_user("py-otto")
        self.assertEqual(e.exception.status, 404)

    def test_bad_input_is_refused_before_sending(self):
        for bad in ("ftp://x", "https://h:99999", "weft://short@h",
                    "https://h?pin=sha256//nope"):
            with self.assertRaises(weft.WeftError, msg=bad):
                weft.Client(bad, api_key="k")
        with self.assertRaises(weft.WeftError):
            ADMIN.add_device("has space")


class Devices(unittest.TestCase):
    def test_add_enroll_set_revoke(self):
        enr = ADMIN.add_device("py-dev", device_class="fleet",
                               expires_in=600)
        self.assertTrue(enr.enrollment.startswith("weft-enroll://"))
        key = os.path.join(KEYS, "py-dev.key")
        dev = weft.Client.login_device(enr.enrollment, key_path=key)
        self.assertEqual(dev.device_id, "py-dev")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        # Its key alone, the server found beside it.
        again = weft.Client.login_device(None, "py-dev", key)
        self.assertEqual(again.tunnels(), [])
        d = ADMIN.device("py-dev")
        self.assertEqual(d.device_class, "fleet")
        self.assertEqual(d.acl.reach_ports, "22,3389")
        ops = api(ENV["OPS_KEY"])
        d = ops.set_device_acl("py-dev", reach_ports="22,5900")
        self.assertEqual(d.acl.reach_ports, "22,5900")
        self.assertEqual(d.set.get("reach_ports"), "22,5900")
        with self.assertRaises(weft.ApiError) as e:
            ops.set_device_acl("py-dev", allow_ips="10.0.0.0/8")
        self.assertEqual(e.exception.code, "forbidden")
        with self.assertRaises(weft.ApiError) as e:
            ADMIN.set_device_acl("py-dev", reach_ports="22-")
        self.assertEqual(e.exception.status, 400)
        d = ADMIN.set_device_acl("py-dev", reach_ports=None)
        self.assertEqual(d.acl.reach_ports, "22,3389")
        with self.assertRaises(weft.ApiError) as e:
            ADMIN.add_device("py-dev")
        self.assertEqual((e.exception.status, e.exception.code),
                         (409, "device_enrolled"))
        r = ADMIN.revoke_device("py-dev")
        self.assertEqual((r.revoked, r.tunnels_ended), ("py-dev", 0))
        self.assertTrue(ADMIN.device("py-dev").revoked)
        with self.assertRaises(weft.ApiError) as e:
            weft.Client.login_device(None, "py-dev", key)
        self.assertEqual((e.exception.status, e.exception.code),
                         (403, "device_revoked"))
        ADMIN.forget_device_key("py-dev")
        self.assertFalse(ADMIN.device("py-dev").revoked)

    def test_enrolled_here_for_weft_tunnel(self):
        # The shell then runs `weft tunnel --device-id py-enr` on it.
        enr = ADMIN.add_device("py-enr")
        dev = weft.Client.login_device(enr.enrollment, "py-enr",
                                       ENV["ENROLL_KEY"])
        self.assertEqual(dev.tunnels(), [])
        self.assertTrue(os.path.exists(ENV["ENROLL_KEY"][:-4] + ".server"))

    def test_the_secret_and_a_key(self):
        key = os.path.join(KEYS, "py-tofu.key")
        dev = weft.Client.login_device(ENV["WEFT_CONN"], "py-tofu", key,
                                       create_key=True)
        fp = login.DeviceKey.load(key).fingerprint()
        self.assertEqual(ADMIN.device("py-tofu").key_fingerprint, fp)
        events = dev.audit()
        self.assertTrue(events)
        self.assertEqual({e.device_id for e in events}, {"py-tofu"})
        # A session that stopped working is made again by a new login.
        dev._bearer = "expired"
        self.assertEqual(dev.tunnels(), [])
        # The id is bound now: the secret alone, or another key, is told.
        other = os.path.join(KEYS, "py-other.key")
        with self.assertRaises(weft.ApiError) as e:
            weft.Client.login_device(ENV["WEFT_CONN"], "py-tofu", other,
                                     create_key=True)
        self.assertEqual((e.exception.status, e.exception.code),
                         (403, "device_key_mismatch"))

    def test_a_wrong_secret_stops_before_proving_anything(self):
        wrong = "weft://" + "A" * 43 + "@" + URL.split("//")[1]
        with self.assertRaises(weft.LoginError) as e:
            weft.Client.login_device(wrong, "py-x")
        self.assertIn("could not prove it knows the secret", str(e.exception))

    def test_a_key_file_others_read_is_refused(self):
        key = os.path.join(KEYS, "py-open.key")
        login.DeviceKey.load(key, create=True)
        os.chmod(key, 0o644)
        with self.assertRaises(weft.LoginError) as e:
            weft.Client.login_device(ENV["WEFT_CONN"], "py-open", key)
        self.assertIn("readable by others", str(e.exception))


class Approvals(unittest.TestCase):
    def test_approve_and_deny(self):
        dev = weft.Client.login_device(ENV["WEFT_CONN"], "py-ask",
                                       os.path.join(KEYS, "py-ask.key"),
                                       create_key=True)
        asked = dev.open_tunnel("websocket", "tcp://127.0.0.1:22",
                                await_approval=True)
        self.assertEqual(asked.state, "pending")
        listed = {a.id: a for a in api(ENV["VIEW_KEY"]).approvals()}
        self.assertIn(asked.id, listed)
        self.assertEqual(listed[asked.id].source, "127.0.0.1")
        self.assertEqual(len(listed[asked.id].code.replace("-", "")), 6)
        with self.assertRaises(weft.ApiError) as e:
            api(ENV["OPS_KEY"]).approve(asked.id)
        self.assertEqual(e.exception.status, 403)
        done = ADMIN.approve(asked.id)
        self.assertEqual(done.state, "approved")
        self.assertTrue(done.tunnel_id)
        seen = dev.approval(asked.id)
        self.assertEqual(seen.tunnel.id, done.tunnel_id)
        self.assertTrue(seen.tunnel.token)
        self.assertIn(done.tunnel_id, [t.id for t in dev.tunnels()])
        with self.assertRaises(weft.ApiError) as e:
            ADMIN.approve(asked.id)
        self.assertEqual(e.exception.code, "already_decided")
        ADMIN.end_tunnel(done.tunnel_id)
        with self.assertRaises(weft.ApiError) as e:
            ADMIN.tunnel(done.tunnel_id)
        self.assertEqual(e.exception.status, 404)
        asked = dev.open_tunnel("websocket", "tcp://127.0.0.1:22",
                                await_approval=True)
        self.assertEqual(ADMIN.deny(asked.id).state, "denied")
        self.assertEqual(dev.approval(asked.id).state, "denied")
        events = ADMIN.audit(device="py-ask", limit=10)
        kinds = [e.event for e in events]
        for k in ("approval-requested", "approval-granted", "deleted",
                  "approval-denied"):
            self.assertIn(k, kinds)

    def test_a_real_agents_request(self):
        waiting = [a for a in ADMIN.approvals()
                   if a.device_id == ENV["ASK_DEVICE"]]
        self.assertEqual(len(waiting), 1, waiting)
        a = waiting[0]
        self.assertEqual((a.state, a.kind), ("pending", "tunnel"))
        self.assertTrue(a.key_fingerprint)
        self.assertTrue(a.request["remote"].startswith("tcp://127.0.0.1:"))
        done = weft.Client(socket=SOCKET).approve(a.id)
        self.assertTrue(done.tunnel_id)
        self.assertEqual(ADMIN.tunnel(done.tunnel_id).device_id,
                         ENV["ASK_DEVICE"])


class Audit(unittest.TestCase):
    def test_filters(self):
        created = ADMIN.audit(event="created")
        self.assertTrue(created)
        self.assertEqual({e.event for e in created}, {"created"})
        agent = ENV["AGENT_DEVICE"]
        two = ADMIN.audit(device=agent, limit=2)
        self.assertEqual(len(two), 2)
        self.assertEqual({e.device_id for e in two}, {agent})
        self.assertGreater(two[0].seq, two[1].seq)  # newest first
        by = ADMIN.audit(actor=agent)
        self.assertTrue(by)
        self.assertEqual({e.actor for e in by}, {agent})
        # KIND:NAME actors, whose colon travels as %3A
        by_root = ADMIN.audit(actor="local:root")
        self.assertTrue(by_root)
        self.assertEqual({e.actor for e in by_root}, {"local:root"})
        with self.assertRaises(weft.ApiError) as e:
            ADMIN.audit(actor="user:a:b")
        self.assertEqual(e.exception.status, 400)
        self.assertEqual(ADMIN.audit(since=time.time() + 3600), [])
        old = ADMIN.audit(since=0, limit=1000)
        self.assertIn("server-started", [e.event for e in old])
        with self.assertRaises(weft.ApiError) as e:
            ADMIN.audit(event="not plain!")
        self.assertEqual((e.exception.status, e.exception.code),
                         (400, "bad_request"))
        with self.assertRaises(weft.ApiError) as e:
            ADMIN.audit(limit=5000)
        self.assertEqual(e.exception.status, 400)


class CommandLine(unittest.TestCase):
    def run_cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        rc = cli.main(list(argv), out, err)
        return rc, out.getvalue(), err.getvalue()

    def test_tunnels_table_over_the_socket(self):
        rc, out, err = self.run_cli("tunnels", "--socket", SOCKET)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split()[:3], ["ID", "DEVICE", "TRANSPORT"])
        self.assertTrue(any(ENV["AGENT_DEVICE"] in l for l in lines[1:]))

    def test_audit_with_a_key_and_filters(self):
        rc, out, err = self.run_cli(
            "audit", "--server", URL + "?pin=" + pin(), "--key",
            ENV["VIEW_KEY"], "--event", "created", "--limit", "1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.splitlines()), 2)
        self.assertIn("created", out.splitlines()[1])

    def test_a_refusal_says_the_apis_code(self):
        rc, out, err = self.run_cli("devices", "--server", URL, "--pin",
                                    pin(), "--key", "weft_wrong")
        self.assertEqual(rc, 1)
        self.assertIn("401 unauthorized", err)


if __name__ == "__main__":
    unittest.main(verbosity=2, buffer=False, argv=[sys.argv[0]])
