// Opens one page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
// never a downloaded browser) and prints what the page reported as one JSON line.
// Usage: node browser_test.js URL TIMEOUT_MS [SPKI_SHA256_BASE64]
// The page (page.js, served by Tern's http_dir) runs MQTT.js against the broker it came from
// and sets window.tern_result = {ok, log, ...}. Exit status 0 when ok, 1 otherwise.
'use strict';
const { chromium } = require('playwright-core');

async function main() {
    const [url, timeoutArg, spki] = process.argv.slice(2);
    const timeout = parseInt(timeoutArg || '30000', 10);
    const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'];
    if (spki) {
        // Trust exactly the test server's key (the test CA is not in Chromium's store).
        args.push('--ignore-certificate-errors-spki-list=' + spki);
    }
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args,
        headless: true, timeout });
    let result = { ok: false, log: ['no result'] };
    try {
        const page = await browser.newPage();
        page.on('console', (m) => process.stderr.write('[page] ' + m.text() + '\n'));
        page.on('pageerror', (e) => process.stderr.write('[page error] ' + e + '\n'));
        await page.goto(url, { timeout });
        await page.waitForFunction(() => window.tern_result !== undefined, null, { timeout });
        result = await page.evaluate(() => window.tern_result);
    } catch (e) {
        result = { ok: false, log: ['runner: ' + e.message] };
    } finally {
        await browser.close();
    }
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(result.ok ? 0 : 1);
}

main().catch((e) => {
    process.stdout.write(JSON.stringify({ ok: false, log: ['runner: ' + e.stack] }) + '\n');
    process.exit(1);
});
