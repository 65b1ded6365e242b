// Entry point: both windows load this bundle; the hash says which view to show.
import { render } from "preact";
import "./styles.css";
import { MainWindow } from "./views/MainWindow";
import { Wizard } from "./views/Wizard";

const root = document.getElementById("app");
if (root) {
  const isWizard = location.hash === "#wizard";
  document.body.classList.add(isWizard ? "wizard-window" : "main-window-body");
  render(isWizard ? <Wizard /> : <MainWindow />, root);
}
