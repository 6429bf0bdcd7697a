// Reads an .ics from stdin with ical.js (Thunderbird's and Nextcloud's parser; its path in
// ICALJS) and prints each event's summary, local wall time and UTC offset (minutes) as JSON.
import { pathToFileURL } from "node:url";

const ICAL = (await import(pathToFileURL(process.env.ICALJS).href)).default;
let text = "";
for await (const chunk of process.stdin) text += chunk;
const cal = new ICAL.Component(ICAL.parse(text));
for (const vtz of cal.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(vtz);
}
const out = cal.getAllSubcomponents("vevent").map((v) => {
  const e = new ICAL.Event(v);
  return { summary: e.summary, wall: e.startDate.toString(), offset: e.startDate.utcOffset() / 60 };
});
console.log(JSON.stringify(out));
