import json
import threading
import unittest
import urllib.error
import urllib.request

from app.server import Config, State, create_server


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.state = State()
        cls.server = create_server(
            Config(service_name="test-svc", version="1.2.3", bucket_name="test-svc-dev"),
            cls.state,
            host="127.0.0.1",
            port=0,
        )
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        host, port = cls.server.server_address[:2]
        cls.base = f"http://{host}:{port}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join(timeout=5)

    def request(self, path: str, method: str = "GET"):
        req = urllib.request.Request(self.base + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                return res.status, dict(res.headers), res.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def test_healthz(self) -> None:
        status, _, body = self.request("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})

    def test_readyz_follows_shutdown(self) -> None:
        self.assertEqual(self.request("/readyz")[0], 200)
        self.state.mark_not_ready()
        try:
            status, _, body = self.request("/readyz")
            self.assertEqual(status, 503)
            self.assertEqual(json.loads(body), {"status": "shutting down"})
        finally:
            self.state.mark_ready()

    def test_root_describes_service(self) -> None:
        status, headers, body = self.request("/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        self.assertEqual(json.loads(body), {"service": "test-svc", "version": "1.2.3", "bucket": "test-svc-dev"})

    def test_unknown_path_is_404(self) -> None:
        self.assertEqual(self.request("/nope")[0], 404)

    def test_head_has_no_body(self) -> None:
        status, headers, body = self.request("/healthz", method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertNotEqual(headers["Content-Length"], "0")

    def test_only_get_and_head(self) -> None:
        status, headers, _ = self.request("/healthz", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "GET, HEAD")


if __name__ == "__main__":
    unittest.main()
