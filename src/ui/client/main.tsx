/** Entry point: mounts the app and routes same-origin link clicks through the history API. */
import { render } from 'preact';
import { App } from './app.js';
import { interceptLinks } from './router.js';
import './styles.css';

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  interceptLinks(document.body);
  render(<App />, root);
}
