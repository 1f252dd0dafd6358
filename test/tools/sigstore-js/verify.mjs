// verify.mjs verifies a Sigstore bundle with sigstore-js: against a trusted
// root file, with no TUF and no network, or, with --tuf-mirror, against the
// trusted root sigstore.verify fetches from a TUF repository (tufMirrorURL,
// tufRootPath, tufCachePath): what signet's end-to-end tests ask of it.
//
//   node verify.mjs --bundle B --trusted-root TR --identity SAN --issuer ISS [--artifact ART]
//   node verify.mjs --bundle B --tuf-mirror URL --tuf-root ROOT --tuf-cache DIR --identity SAN --issuer ISS [--artifact ART]
//
// A message-signature bundle needs --artifact; a DSSE bundle is checked
// without one. It requires one RFC 3161 timestamp and no transparency log
// or SCT, as signet issues. Exit 0 and "verified" on stdout on success;
// exit 1 and the reason on stderr on failure; exit 2 on bad usage.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

// The @sigstore packages are CommonJS; the ones sigstore itself resolves.
const require = createRequire(import.meta.url);
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const sigstore = require('sigstore');

const { values } = parseArgs({
  options: {
    bundle: { type: 'string' },
    'trusted-root': { type: 'string' },
    identity: { type: 'string' },
    issuer: { type: 'string' },
    artifact: { type: 'string' },
    'tuf-mirror': { type: 'string' },
    'tuf-root': { type: 'string' },
    'tuf-cache': { type: 'string' },
  },
});
const tuf = Boolean(values['tuf-mirror']);
const required = tuf ? ['bundle', 'tuf-root', 'tuf-cache', 'identity', 'issuer'] : ['bundle', 'trusted-root', 'identity', 'issuer'];
for (const name of required) {
  if (!values[name]) {
    console.error(`verify.mjs: --${name} is required`);
    process.exit(2);
  }
}

// verifyOverTUF is sigstore.verify with the trusted root from the TUF
// repository at --tuf-mirror, pinned by --tuf-root.
async function verifyOverTUF() {
  const bundle = JSON.parse(readFileSync(values.bundle, 'utf8'));
  const options = {
    tufMirrorURL: values['tuf-mirror'],
    tufRootPath: values['tuf-root'],
    tufCachePath: values['tuf-cache'],
    retry: 0,
    tlogThreshold: 0,
    ctLogThreshold: 0,
    certificateIdentityURI: values.identity,
    certificateIssuer: values.issuer,
  };
  const signer = values.artifact
    ? await sigstore.verify(bundle, readFileSync(values.artifact), options)
    : await sigstore.verify(bundle, options);
  console.log(`verified over TUF: ${signer.identity?.subjectAlternativeName} (issuer ${signer.identity?.extensions?.issuer})`);
}

if (tuf) {
  try {
    await verifyOverTUF();
  } catch (err) {
    console.error(`verify.mjs: ${err.name}: ${err.message}${err.code ? ` [${err.code}]` : ''}${err.cause ? ` (cause: ${err.cause.message ?? err.cause})` : ''}`);
    process.exit(1);
  }
  process.exit(0);
}

try {
  const trustedRoot = TrustedRoot.fromJSON(JSON.parse(readFileSync(values['trusted-root'], 'utf8')));
  const bundle = bundleFromJSON(JSON.parse(readFileSync(values.bundle, 'utf8')));
  const artifact = values.artifact ? readFileSync(values.artifact) : undefined;
  const verifier = new Verifier(toTrustMaterial(trustedRoot), {
    tlogThreshold: 0,
    ctlogThreshold: 0,
    timestampThreshold: 1,
  });
  const signer = verifier.verify(toSignedEntity(bundle, artifact), {
    subjectAlternativeName: values.identity,
    extensions: { issuer: values.issuer },
  });
  console.log(`verified: ${signer.identity?.subjectAlternativeName} (issuer ${signer.identity?.extensions?.issuer})`);
} catch (err) {
  console.error(`verify.mjs: ${err.name}: ${err.message}${err.code ? ` [${err.code}]` : ''}`);
  process.exit(1);
}
