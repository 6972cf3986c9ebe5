"""The demo page (examples/web) in headless Chromium, as a person uses it: type a number,
send, read the code from the Plivo sandbox, type a wrong one (the page shows the attempts
left), then the right one, verified by the verification's id; then the page must show the
verified number and a token PyJWT accepts. The page is on another origin than the API, so
the API's CORS rules (template.yaml's, applied by the local stack) are in play. Saves a
screenshot.

Usage: browser_test.py PAGE_URL API_URL SANDBOX_URL AUDIENCE SCREENSHOT
"""

import json
import re
import sys
import time
import urllib.request

import jwt
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.ui import WebDriverWait

page, api, sandbox, audience, screenshot = sys.argv[1:]
NUMBER = "+14155552698"


def code_sent_to(number):
    for _ in range(100):
        with urllib.request.urlopen(f"{sandbox}/messages") as response:
            texts = [m["text"] for m in json.load(response) if m["dst"] == number]
        if texts:
            return re.search(r"\d{6}", texts[-1]).group()
        time.sleep(0.1)
    raise SystemExit(f"no SMS to {number}")


options = Options()
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=720,1000"]:
    options.add_argument(argument)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
try:
    wait = WebDriverWait(driver, 20)
    driver.get(page)
    driver.find_element(By.ID, "phone").send_keys("+1 415 555 2698")
    driver.find_element(By.ID, "send").click()
    wait.until(shown.visibility_of_element_located((By.ID, "otp")))
    otp = driver.find_element(By.ID, "otp")
    assert otp.get_attribute("autocomplete") == "one-time-code"
    assert otp.get_attribute("inputmode") == "numeric"

    # A wrong code first: the page says so, with the attempts the verification has left (read
    # by its id), and the right one still works afterwards.
    code = code_sent_to(NUMBER)
    otp.send_keys("000000" if code != "000000" else "000001")
    driver.find_element(By.ID, "verify").click()
    wait.until(shown.text_to_be_present_in_element((By.ID, "message"), "wrong"))
    message = driver.find_element(By.ID, "message").text
    assert "4 attempts left" in message, message
    otp.clear()
    otp.send_keys(code)
    driver.find_element(By.ID, "verify").click()
    wait.until(shown.visibility_of_element_located((By.ID, "result")))

    shown_number = driver.find_element(By.ID, "verified-number").text
    token = driver.find_element(By.ID, "token").get_attribute("textContent")
    assert shown_number == NUMBER, shown_number
    key = jwt.PyJWKClient(f"{api}/.well-known/jwks.json").get_signing_key_from_jwt(token).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=api)
    assert claims["phone_number"] == NUMBER, claims
    driver.save_screenshot(screenshot)
    print(f"ok   browser: verified {shown_number} on the demo page; PyJWT accepts its token")

    # Another code for the same number within the resend cooldown: the page reads Retry-After
    # (exposed by the API's CORS rules) and counts down on the button.
    driver.get(page)
    driver.find_element(By.ID, "phone").send_keys(NUMBER)
    driver.find_element(By.ID, "send").click()
    wait.until(shown.text_to_be_present_in_element((By.ID, "message"), "Too many codes"))
    message = driver.find_element(By.ID, "message").text
    # One countdown, on the button: the message holds no number that would stand still.
    assert not re.search(r"\d", message), message
    button = driver.find_element(By.ID, "send")
    assert re.search(r"\(\d+s\)$", button.text), button.text
    assert not button.is_enabled()
    print(f"ok   browser: a resend too soon shows a countdown ({button.text})")

    # A mistyped number is answered in words for people, not the API's field message.
    driver.get(page)
    driver.find_element(By.ID, "phone").send_keys("+1 415 CALL NOW")
    driver.find_element(By.ID, "send").click()
    wait.until(shown.text_to_be_present_in_element((By.ID, "message"), "Check the number"))
    message = driver.find_element(By.ID, "message").text
    assert "phoneNumber" not in message and "must be" not in message, message
    print(f"ok   browser: a mistyped number reads: {message}")
finally:
    driver.quit()
