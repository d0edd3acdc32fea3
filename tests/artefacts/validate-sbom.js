// Validates an SBOM against the official CycloneDX 1.5 JSON schema, as the
// CycloneDX library on npm ships it, with ajv from the same cache directory.
// usage: node validate-sbom.js CACHE_DIR SBOM.json
'use strict';

const fs = require('fs');
const path = require('path');

const [cache, sbomPath] = process.argv.slice(2);
const mods = path.join(cache, 'node_modules');
const Ajv = require(path.join(mods, 'ajv')).default;
const addFormats = require(path.join(mods, 'ajv-formats'));
const addFormats2019 = require(path.join(mods, 'ajv-formats-draft2019'));
const schemas = path.join(mods, '@cyclonedx', 'cyclonedx-library', 'res', 'schema');

function load(name) {
	return JSON.parse(fs.readFileSync(path.join(schemas, name), 'utf8'));
}

// The bom schema refers to its helpers by their file names, which carry a
// SNAPSHOT suffix that their own $id lacks; register them under the names
// that are actually referenced.
function helper(name) {
	const s = load(name);
	s.$id = 'http://cyclonedx.org/schema/' + name;
	return s;
}

// Strict mode stays on so that a format ajv does not know fails loudly
// instead of passing unchecked; the schema's one annotation keyword is
// declared so strict mode accepts it.
const ajv = new Ajv({ allErrors: true });
ajv.addKeyword('meta:enum');
addFormats(ajv);
addFormats2019(ajv, { formats: ['idn-email', 'iri-reference'] });
ajv.addSchema(helper('spdx.SNAPSHOT.schema.json'));
ajv.addSchema(helper('jsf-0.82.SNAPSHOT.schema.json'));

const validate = ajv.compile(load('bom-1.5.SNAPSHOT.schema.json'));
const sbom = JSON.parse(fs.readFileSync(sbomPath, 'utf8'));
if (!validate(sbom)) {
	for (const e of validate.errors)
		console.error(`${sbomPath}: ${e.instancePath || '/'}: ${e.message}`);
	process.exit(1);
}
console.log(`${sbomPath}: valid CycloneDX 1.5`);
