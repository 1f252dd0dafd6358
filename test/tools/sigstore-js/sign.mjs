// sign.mjs signs a file with sigstore-js through a custom Fulcio and
// timestamp authority, with no transparency log: what signet's end-to-end
// tests ask of sigstore-js's signing side.
//
//   node sign.mjs --fulcio URL --tsa URL --token T --out B [--payload-type TYPE] FILE
//
// Without --payload-type it writes a message-signature bundle over FILE;
// with it, a DSSE bundle whose payload is FILE (an in-toto statement). It
// calls POST {fulcio}/api/v2/signingCert and POST {tsa}/api/v1/timestamp.
// Exit 0 on success; exit 1 and the reason on stderr on failure.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const sigstore = require('sigstore');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    fulcio: { type: 'string' },
    tsa: { type: 'string' },
    token: { type: 'string' },
    out: { type: 'string' },
    'payload-type': { type: 'string' },
  },
});
for (const name of ['fulcio', 'tsa', 'token', 'out']) {
  if (!values[name]) {
    console.error(`sign.mjs: --${name} is required`);
    process.exit(2);
  }
}
if (positionals.length !== 1) {
  console.error('sign.mjs: give exactly one FILE');
  process.exit(2);
}

const options = {
  fulcioURL: values.fulcio,
  tsaServerURL: values.tsa,
  tlogUpload: false,
  identityToken: values.token,
  retry: 0,
};
try {
  const data = readFileSync(positionals[0]);
  const bundle = values['payload-type']
    ? await sigstore.attest(data, values['payload-type'], options)
    : await sigstore.sign(data, options);
  writeFileSync(values.out, JSON.stringify(bundle) + '\n');
} catch (err) {
  const cause = err.cause ? ` (cause: ${err.cause.message ?? err.cause})` : '';
  console.error(`sign.mjs: ${err.name}: ${err.message}${err.code ? ` [${err.code}]` : ''}${cause}`);
  process.exit(1);
}
