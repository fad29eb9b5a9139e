// Runs in Chromium, loaded from Tern's http_dir: MQTT.js over ws:// or wss:// (whichever
// scheme served the page) to the same listener. Subscribes with wildcards, publishes at
// QoS 0/1/2, receives a retained message and a 1 MB payload from a TCP client, sends 1 MB
// back, and leaves the verdict in window.tern_result for the test runner.
'use strict';
(function () {
    const log = [];
    const say = (s) => { log.push(s); document.getElementById('log').textContent += s + '\n'; };
    const done = (ok, extra) => {
        if (window.tern_result === undefined) {
            window.tern_result = Object.assign({ ok, log }, extra || {});
            say(ok ? 'PASS' : 'FAIL');
        }
    };
    const BIG = 1024 * 1024;
    const pattern = (i) => (i * 31 + 7) & 255;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = scheme + '://' + location.host + '/mqtt';
    const id = 'browser-' + scheme;
    setTimeout(() => done(false, { reason: 'timeout' }), 25000);
    const client = mqtt.connect(url, { clientId: id, protocolVersion: 4, clean: true,
        reconnectPeriod: 0, connectTimeout: 10000, keepalive: 30 });
    const want = { 'web/q0': 0, 'web/q1': 1, 'web/q2': 2 };
    const seen = {};
    let retained = false;
    let big = false;
    const check = () => {
        if (retained && big && Object.keys(want).every((t) => t in seen)) {
            const up = new Uint8Array(BIG);
            for (let i = 0; i < BIG; i++) up[i] = pattern(i + 1);
            client.publish('up/' + scheme, up, { qos: 1 }, (err) => {
                if (err) { done(false, { reason: 'big publish: ' + err }); return; }
                say('sent 1 MB');
                client.end(false, {}, () => done(true, { seen, url }));
            });
        }
    };
    client.on('error', (e) => { say('error ' + e); done(false, { reason: String(e) }); });
    client.on('close', () => say('closed'));
    client.on('message', (topic, payload, packet) => {
        if (topic === 'ret/a/x') {
            retained = packet.retain === true && payload.toString() === 'kept';
            say('retained ' + retained);
        } else if (topic === 'big/' + scheme) {
            let good = payload.length === BIG;
            for (let i = 0; good && i < BIG; i++) good = payload[i] === pattern(i);
            big = good;
            say('big ' + payload.length + ' ' + good);
            if (!good) done(false, { reason: 'big payload damaged' });
        } else if (topic in want) {
            if (payload.toString() !== 'hello ' + topic) {
                done(false, { reason: 'payload on ' + topic });
            }
            seen[topic] = packet.qos;
            say('got ' + topic + ' qos ' + packet.qos);
        }
        check();
    });
    client.on('connect', () => {
        say('connected to ' + url);
        client.subscribe({ 'web/+': { qos: 2 }, 'ret/+/x': { qos: 1 }, ['big/' + scheme]: { qos: 1 } },
            (err, granted) => {
                if (err) { done(false, { reason: 'subscribe: ' + err }); return; }
                say('granted ' + JSON.stringify(granted.map((g) => g.qos)));
                for (const t of Object.keys(want)) {
                    client.publish(t, 'hello ' + t, { qos: want[t] });
                }
                client.publish('ready/' + scheme, 'ready', { qos: 1 });
            });
    });
})();
