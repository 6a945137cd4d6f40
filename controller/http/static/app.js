// The page's entry point: the shell (core.js), then every view module, each of which registers
// itself with registerView(); the order of the imports is the order of the navigation bar.
import { start } from "./core.js";
import "./home.js";
import "./radio.js";
import "./live.js";
import "./lighting.js";
import "./health.js";
import "./report.js";
import "./users.js";
import "./notify.js";

start();
