//! The end-to-end harness: the real app in a real window, driven over W3C WebDriver.
//! Xvfb (a private display) → tauri-driver → WebKitWebDriver → the `zhtj-desktop` binary,
//! with its data in a temporary folder. The WebDriver client is a few JSON requests over
//! `ureq`. Screenshots go to `ZHTJ_SCREENSHOTS` or `target/tmp/desktop-screenshots`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// One window at a time: two WebKit processes and a build would starve two cores.
static ONE_WINDOW: Mutex<()> = Mutex::new(());

/// How long a condition may take to become true (the first start of WebKit is slow).
const PATIENCE: Duration = Duration::from_secs(60);

/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The folder screenshots are written to.
pub fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("ZHTJ_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("desktop-screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn tauri_driver() -> PathBuf {
    let in_cargo = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|c| c.join("bin/tauri-driver"));
    match in_cargo {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("tauri-driver"),
    }
}

/// Kills its process when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The app running in its own display, with a WebDriver session on it.
pub struct Desktop {
    agent: ureq::Agent,
    base: String,
    session: String,
    // Dropped in this order: the session first (closes the app), then the driver, then X.
    _driver: Proc,
    _xvfb: Proc,
    _one: MutexGuard<'static, ()>,
}

impl Desktop {
    /// Start the app with its data in `data_dir`.
    pub fn start(data_dir: &Path) -> Desktop {
        Desktop::start_saving_to(data_dir, &data_dir.join("files"))
    }

    /// Start the app with its data in `data_dir`, saving files (templates, codes) to `files`.
    pub fn start_saving_to(data_dir: &Path, files: &Path) -> Desktop {
        let one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
        // Xvfb picks a free display and writes its number to the pipe.
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts (install xvfb: bash scripts/test.sh does)");
        let mut line = String::new();
        BufReader::new(xvfb.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("Xvfb display number");
        let display = format!(":{}", line.trim());
        let xvfb = Proc(xvfb);

        let port = free_port();
        let native = free_port();
        // The driver's and the app's output, kept for a failing test.
        let test = std::thread::current().name().unwrap_or("window").to_owned();
        let log_path = screenshot_dir().join(format!("{test}.log"));
        let log = std::fs::File::create(&log_path).expect("driver log");
        // The test's own server raised this process's open-file limit to the maximum
        // (sync-server's net.rs); inherited, that makes WebKit's process launches crawl
        // (every descriptor up to the limit is closed), so the app gets an ordinary one.
        let driver = Command::new("sh")
            .args(["-c", "ulimit -n 4096 && exec \"$0\" \"$@\""])
            .arg(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .env("DISPLAY", &display)
            .env(zhtj_desktop::DATA_ENV, data_dir)
            // Automatic sync every 2 s, so that "syncs by itself" is seen quickly.
            .env(zhtj_desktop::AUTO_SYNC_ENV, "2")
            .env(zhtj_desktop::FILES_ENV, files)
            .env(zhtj_desktop::NO_MOTION_ENV, "1")
            // No GPU in Xvfb: software rendering, no compositing surprises.
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("tauri-driver starts (cargo install tauri-driver --locked: bash scripts/test.sh does)");
        let driver = Proc(driver);

        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .proxy(None)
                .timeout_global(Some(Duration::from_secs(120)))
                .build(),
        );
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": env!("CARGO_BIN_EXE_zhtj-desktop")}
        }}});
        let resp = send(&agent, "POST", &format!("{base}/session"), Some(caps));
        let session = resp["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {resp}"))
            .to_owned();
        Desktop {
            agent,
            base,
            session,
            _driver: driver,
            _xvfb: xvfb,
            _one: one,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        send(&self.agent, method, &url, body)
    }

    /// Run `script` in the page and return its value.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The page's visible text.
    pub fn text(&self) -> String {
        self.js("return document.body.innerText", json!([]))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Wait until `cond` holds, for up to a minute; panics with `what` and the page text.
    pub fn wait_until(&self, what: &str, mut cond: impl FnMut(&Desktop) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !cond(self) {
            if Instant::now() > deadline {
                let text = self.text();
                eprintln!("timed out waiting for {what}; page text:\n{text}");
                let shot = self.screenshot(&format!("failed-{}", what.replace(' ', "_")));
                panic!(
                    "timed out waiting for {what}; screenshot {}",
                    shot.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until the page shows `s`.
    pub fn wait_text(&self, s: &str) {
        self.wait_until(&format!("the text “{s}”"), |d| d.text().contains(s));
    }

    /// The element matching a CSS selector (waiting for it to appear).
    pub fn find(&self, css: &str) -> String {
        let mut found = None;
        self.wait_until(&format!("element {css}"), |d| {
            let v = d.cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            );
            found = v[ELEMENT_KEY].as_str().map(str::to_owned);
            found.is_some()
        });
        found.expect("found")
    }

    /// Click the element matching `css` as a user does: while a message covers it (Element
    /// Plus's toasts fade after a few seconds), wait; any other refusal fails the test.
    pub fn click(&self, css: &str) {
        let el = self.find(css);
        let mut answer = Value::Null;
        self.wait_until(&format!("{css} to take a click"), |d| {
            answer = d.cmd("POST", &format!("/element/{el}/click"), Some(json!({})));
            answer["error"] != "element click intercepted"
        });
        assert!(
            answer.get("error").is_none(),
            "click on {css} refused: {answer}"
        );
    }

    /// Type `text` into the input matching `css` (real key events).
    pub fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        let answer = self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        );
        assert!(
            answer.get("error").is_none(),
            "typing into {css} refused: {answer}"
        );
    }

    /// Empty the input matching `css` as a user does (select all, delete), so that the
    /// page sees the input events (WebDriver's own "clear" does not send them).
    pub fn clear(&self, css: &str) {
        self.type_into(css, "\u{E009}a\u{E000}\u{E003}");
    }

    /// Open the select matching `css` and pick the option labelled `label`.
    pub fn choose(&self, css: &str, label: &str) {
        self.click(css);
        self.wait_until(&format!("the option “{label}”"), |d| {
            d.js(
                "const o = [...document.querySelectorAll('.el-select-dropdown__item')]
                   .find(e => e.textContent.trim() === arguments[0] && e.offsetParent !== null);
                 if (o) { o.click(); return true } return false",
                json!([label]),
            )
            .as_bool()
            .unwrap_or(false)
        });
    }

    /// The text of the element matching `css`, or "" when there is none.
    pub fn text_of(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Save a screenshot of the window as `<name>.png` in [`screenshot_dir`].
    pub fn screenshot(&self, name: &str) -> PathBuf {
        // WebKitGTK takes a snapshot at the page's next paint, and a page where nothing
        // changes (no caret blinking, no transition) does not paint again: for the next
        // two seconds, a nearly transparent pixel in the bottom-right corner changes every
        // 50 ms.
        self.js(
            "let p = document.getElementById('zhtj-paint');
             if (!p) { p = document.createElement('div'); p.id = 'zhtj-paint';
               p.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none';
               document.body.appendChild(p) }
             let n = 0;
             clearInterval(window.zhtjPaint);
             window.zhtjPaint = setInterval(() => {
               p.style.background = `rgba(0, 0, 0, ${0.01 + (n % 2) / 100})`;
               if (++n > 40) clearInterval(window.zhtjPaint);
             }, 50)",
            json!([]),
        );
        let v = self.cmd("GET", "/screenshot", None);
        let b64 = v.as_str().unwrap_or_else(|| panic!("no screenshot: {v}"));
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "screenshot is a PNG");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.agent.delete(url).call();
    }
}

/// One WebDriver request; the answer's `value`.
fn send(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Value {
    let resp = match method {
        "GET" => agent.get(url).call(),
        _ => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.unwrap_or(json!({})).to_string()),
    };
    let mut resp = resp.unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
    let text = resp.body_mut().read_to_string().expect("WebDriver answer");
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    v["value"].clone()
}
