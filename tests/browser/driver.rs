//! Debian's chromium, headless, driven over WebDriver: one `chromedriver` per browser, a fresh
//! profile directory per browser, and nothing that can reach beyond this machine.
//!
//! Shared by the browser tests (`tests/browser/`) and the UI bench (`benches/ui.rs`, which
//! includes this file by path), so it reports failures as `String`s and leaves panicking to the
//! tests.
//!
//! Why a chromedriver per browser: tests run in parallel threads, and a driver of their own
//! makes every browser independent (its own profile, cookies and cache, its own crash). The
//! driver is started with `--port=0` and says which port it took on stdout, so there is no port
//! probing. It runs in a process group of its own, which chromium's processes inherit: dropping
//! a [`Chromium`] (a failed test unwinding) kills the whole group, so no headless browser
//! outlives its test.
//!
//! Isolation from the internet: `--host-resolver-rules` maps every host name except 127.0.0.1
//! and localhost to "not found", and background networking, component updates, sync and QUIC
//! are off, so the browser never looks anything up outside this machine.

use std::{path::Path, process::Stdio, time::Duration};

use fantoccini::{Client, ClientBuilder, wd::WebDriverCompatibleCommand};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// Debian's chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromium-driver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Upper bound for chromedriver to say it listens, and for chromium to open a session.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Host names the browser may resolve; every other one is "not found".
pub const HOST_RULES: &str = "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost";

/// What is missing to run a browser, if anything: a sentence saying how to install it.
pub fn missing() -> Option<String> {
    let absent: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).is_file())
        .collect();
    if absent.is_empty() {
        None
    } else {
        Some(format!(
            "{} not found: run `bash scripts/test.sh` (it installs them) or \
             `apt-get install chromium chromium-driver`",
            absent.join(" and ")
        ))
    }
}

/// A viewport the tests and the bench look at pages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    /// 1280 × 900, a laptop.
    Desktop,
    /// 390 × 844, a phone (mobile emulation: the page's meta viewport applies).
    Phone,
}

impl Viewport {
    /// Width and height in CSS pixels.
    pub fn size(self) -> (u32, u32) {
        match self {
            Viewport::Desktop => (1280, 900),
            Viewport::Phone => (390, 844),
        }
    }

    /// The word used in screenshot names.
    pub fn name(self) -> &'static str {
        match self {
            Viewport::Desktop => "desktop",
            Viewport::Phone => "phone",
        }
    }
}

/// One entry of the browser's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// `SEVERE`, `WARNING`, `INFO`, …
    pub level: String,
    /// Where it comes from: `javascript` (an uncaught error), `network` (a failed load),
    /// `security` (a CSP violation), `console-api` (`console.*`), …
    pub source: String,
    /// The text, usually starting with the URL it is about.
    pub message: String,
}

impl std::fmt::Display for ConsoleEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}] {}", self.level, self.source, self.message)
    }
}

/// A headless chromium with its own chromedriver and profile directory.
pub struct Chromium {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    /// The driver's process id, which is also its process group's id.
    group: Option<u32>,
    /// Chromium's `--user-data-dir`; removed after the processes are gone (field order).
    _profile: TempDir,
}

impl Chromium {
    /// Starts chromedriver and opens a browser session with a fresh profile.
    /// `performance_log` also records chromium's network events (see [`Chromium::network_log`]).
    pub async fn launch(performance_log: bool) -> Result<Chromium, String> {
        if let Some(missing) = missing() {
            return Err(missing);
        }
        let profile = tempfile::Builder::new()
            .prefix("kith-chromium-")
            .tempdir()
            .map_err(|e| format!("creating a profile directory: {e}"))?;
        let mut driver = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {CHROMEDRIVER}: {e}"))?;
        let group = driver.id();
        let session = Self::session(&mut driver, &profile, performance_log);
        let client = match tokio::time::timeout(START_TIMEOUT, session).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => {
                kill_group(group);
                return Err(error);
            }
            Err(_) => {
                kill_group(group);
                return Err(format!(
                    "chromedriver and chromium did not open a session within {START_TIMEOUT:?}"
                ));
            }
        };
        let mut chromium = Chromium {
            client,
            driver,
            group,
            _profile: profile,
        };
        chromium.set_viewport(Viewport::Desktop).await?;
        Ok(chromium)
    }

    /// Waits for the driver's port, then opens the session.
    async fn session(
        driver: &mut Child,
        profile: &TempDir,
        performance_log: bool,
    ) -> Result<Client, String> {
        let stdout = driver
            .stdout
            .take()
            .ok_or("chromedriver's stdout is not piped")?;
        let mut lines = BufReader::new(stdout).lines();
        // "ChromeDriver was started successfully on port 38051."
        let port = loop {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    if let Some(rest) = line.split("successfully on port ").nth(1) {
                        break rest
                            .trim_end_matches('.')
                            .trim()
                            .parse::<u16>()
                            .map_err(|e| format!("chromedriver's port in {line:?}: {e}"))?;
                    }
                }
                Ok(None) => return Err("chromedriver exited before it listened".into()),
                Err(e) => return Err(format!("reading chromedriver's stdout: {e}")),
            }
        };
        // Keep draining stdout so that the driver never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--host-resolver-rules={HOST_RULES}"),
        ];
        let mut logging = json!({"browser": "ALL"});
        if performance_log {
            logging["performance"] = json!("ALL");
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": logging,
        });
        let Value::Object(capabilities) = capabilities else {
            return Err("the capabilities are not a JSON object".into());
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| format!("opening a chromium session through chromedriver: {e}"))
    }

    /// Runs a Chrome DevTools Protocol command (through chromedriver's `goog/cdp/execute`).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Result<Value, String> {
        self.client
            .issue_cmd(ChromeCommand {
                path: "goog/cdp/execute",
                body: json!({"cmd": cmd, "params": params}),
            })
            .await
            .map_err(|e| format!("CDP {cmd}: {e}"))
    }

    /// Sizes the page's viewport exactly (window sizes include no browser chrome in headless
    /// mode, but the emulation also makes the phone a touch device with a meta viewport).
    pub async fn set_viewport(&mut self, viewport: Viewport) -> Result<(), String> {
        let (width, height) = viewport.size();
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": width,
                "height": height,
                "deviceScaleFactor": 1,
                "mobile": viewport == Viewport::Phone,
            }),
        )
        .await
        .map(drop)
    }

    /// Emulates `prefers-color-scheme: dark` (or back to light).
    pub async fn set_dark(&self, dark: bool) -> Result<(), String> {
        let scheme = if dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await
        .map(drop)
    }

    /// The browser's log since the last call (console messages, script errors, failed loads,
    /// CSP violations).
    pub async fn console(&self) -> Result<Vec<ConsoleEntry>, String> {
        let entries = self.log("browser").await?;
        let field = |entry: &Value, name: &str| entry[name].as_str().unwrap_or("").to_owned();
        Ok(entries
            .iter()
            .map(|entry| ConsoleEntry {
                level: field(entry, "level"),
                source: field(entry, "source"),
                message: field(entry, "message"),
            })
            .collect())
    }

    /// The DevTools `Network.*` events since the last call (needs `performance_log`), each as
    /// its `{"method","params"}` object.
    pub async fn network_log(&self) -> Result<Vec<Value>, String> {
        let entries = self.log("performance").await?;
        Ok(entries
            .iter()
            .filter_map(|entry| entry["message"].as_str())
            .filter_map(|message| serde_json::from_str::<Value>(message).ok())
            .map(|mut message| message["message"].take())
            .filter(|message| {
                message["method"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Network."))
            })
            .collect())
    }

    async fn log(&self, kind: &str) -> Result<Vec<Value>, String> {
        match self
            .client
            .issue_cmd(ChromeCommand {
                path: "se/log",
                body: json!({"type": kind}),
            })
            .await
        {
            Ok(Value::Array(entries)) => Ok(entries),
            Ok(other) => Err(format!("the {kind} log is not a list: {other}")),
            Err(e) => Err(format!("reading the {kind} log: {e}")),
        }
    }

    /// Ends the session (chromedriver closes chromium), then stops the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        kill_group(self.group.take());
        let _ = self.driver.wait().await;
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        kill_group(self.group.take());
    }
}

/// SIGKILL to the driver's process group: the driver and every chromium process it started.
fn kill_group(group: Option<u32>) {
    if let Some(group) = group {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{group}")])
            .stderr(Stdio::null())
            .status();
    }
}

/// A chromedriver extension command: `POST /session/{id}/<path>` with a JSON body
/// (`goog/cdp/execute` runs a DevTools command, `se/log` reads a log since the last read).
#[derive(Debug)]
struct ChromeCommand {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for ChromeCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}
