// The passwordless flow against otp-lambda's public API: send a code, verify it by the
// verification's id (filled in by the browser from the SMS where WebOTP is available), show
// the attempts left after a wrong code and the token's claims. The API is
// the one `?api=` names, or `window.OTP_API` (config.js), or this page's origin.
"use strict";

const api = new URLSearchParams(location.search).get("api") || window.OTP_API || location.origin;
const $ = (id) => document.getElementById(id);
let number = "";
let verificationId = "";
let countdown = null;
let webOtp = null;

function say(text, kind = "") {
  $("message").textContent = text;
  $("message").className = kind;
}

async function call(path, init) {
  const response = await fetch(api + path, init);
  const json = await response.json().catch(() => ({}));
  return { status: response.status, retryAfter: Number(response.headers.get("retry-after")), json };
}

const post = (path, body) =>
  call(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/// After a wrong code: how many guesses the verification has left, from its status.
async function wrongCode() {
  const result = await call(`/auth/verifications/${encodeURIComponent(verificationId)}`, { method: "GET" });
  const left = result.json.attemptsLeft;
  if (result.status === 200 && result.json.status === "pending" && left > 0) {
    const attempts = left === 1 ? "1 attempt" : `${left} attempts`;
    return say(`That code is wrong: ${attempts} left. Check the SMS.`, "error");
  }
  return say("That code is wrong or has expired. Send a new code.", "error");
}

/// Disables `button` for `seconds`, counting down on its label.
function wait(button, seconds) {
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  clearInterval(countdown);
  let left = seconds;
  const tick = () => {
    if (left <= 0) {
      clearInterval(countdown);
      button.disabled = false;
      button.textContent = label;
      return;
    }
    button.disabled = true;
    button.textContent = `${label} (${left}s)`;
    left -= 1;
  };
  tick();
  countdown = setInterval(tick, 1000);
}

/// What each error code means to the person at the keyboard (the API's own messages are
/// for developers: they name fields).
function explain({ status, retryAfter, json }, button) {
  switch (json.code) {
    case "invalid_request":
      return button === $("send")
        ? say("Check the number: start with + and the country code, e.g. +1 415 555 2671.", "error")
        : say("Enter the code exactly as the SMS shows it.", "error");
    case "country_not_allowed":
      return say("We cannot text numbers in that country.", "error");
    case "number_type_not_allowed":
      return say("Use a mobile number: we cannot text this kind of number.", "error");
    case "invalid_otp":
      return say("That code is wrong or has expired. Check the SMS, or send a new code.", "error");
    case "too_many_attempts":
      if (retryAfter > 0) wait($("resend"), retryAfter);
      return say("Too many wrong codes. Send a new code when the button's timer ends.", "error");
    case "rate_limited":
      if (retryAfter > 0) wait(button, retryAfter);
      return say("Too many codes requested. You can ask again when the button's timer ends.", "error");
    case "sms_failed":
      return say("The SMS could not be sent. Try again in a moment.", "error");
    default:
      return say(`Something went wrong (${status}). Try again in a moment.`, "error");
  }
}

/// Fills the code in from the SMS where the browser supports WebOTP (the message must end
/// with `@your.domain #123456`).
function listenForSms() {
  if (!("OTPCredential" in window)) return;
  webOtp?.abort();
  webOtp = new AbortController();
  navigator.credentials
    .get({ otp: { transport: ["sms"] }, signal: webOtp.signal })
    .then((otp) => {
      $("otp").value = otp.code;
      $("verify-form").requestSubmit();
    })
    .catch(() => {});
}

async function send(button) {
  number = $("phone").value.trim();
  if (!number) return say("Enter your phone number.", "error");
  button.disabled = true;
  say("Sending…");
  try {
    const result = await post("/auth/send-otp", { phoneNumber: number });
    button.disabled = false;
    if (result.status !== 200) return explain(result, button);
    verificationId = result.json.verificationId;
    $("send-form").hidden = true;
    $("verify-form").hidden = false;
    $("sent-to").textContent = `Sent to ${number}. It expires in ${Math.round(result.json.expiresIn / 60)} minutes.`;
    say("Code sent.", "ok");
    $("otp").focus();
    listenForSms();
  } catch {
    button.disabled = false;
    say("The service cannot be reached. Check your connection.", "error");
  }
}

function claimsOf(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "=")));
}

async function verify() {
  const otp = $("otp").value.trim();
  if (!/^[0-9]+$/.test(otp)) return say("Enter the digits from the SMS.", "error");
  $("verify").disabled = true;
  say("Checking…");
  try {
    const result = await post("/auth/verify-otp", { verificationId, otp });
    $("verify").disabled = false;
    if (result.json.code === "invalid_otp") return wrongCode();
    if (result.status !== 200) return explain(result, $("verify"));
    webOtp?.abort();
    $("verify-form").hidden = true;
    say("Your number is verified.", "ok");
    $("result").hidden = false;
    const token = result.json.token;
    if (token) {
      const claims = claimsOf(token);
      $("verified-number").textContent = claims.phone_number;
      $("claims").textContent = JSON.stringify(claims, null, 2);
      $("token").textContent = token;
    } else {
      $("verified-number").textContent = number;
      $("claims").textContent = "(this deployment issues no token: set OTP_TOKEN_SIGNING_KEY)";
    }
  } catch {
    $("verify").disabled = false;
    say("The service cannot be reached. Check your connection.", "error");
  }
}

$("send-form").addEventListener("submit", (event) => {
  event.preventDefault();
  send($("send"));
});
$("resend").addEventListener("click", () => send($("resend")));
$("verify-form").addEventListener("submit", (event) => {
  event.preventDefault();
  verify();
});
