// The dashboard page: tabs, the WebSocket feed, and the three views.
import { ConsoleView } from './console.js';
import { Feed, LOADTEST_CHANNEL, STATS_CHANNEL } from './feed.js';
import { LiveView } from './live.js';
import { LoadtestView } from './loadtest.js';
import { $ } from './util.js';

function start() {
  const status = $('feed-status');
  const feed = new Feed((state) => {
    status.textContent = state;
    status.dataset.state = state;
  });
  const live = new LiveView();
  const loadtest = new LoadtestView();
  const console_ = new ConsoleView(feed);
  feed.subscribe(STATS_CHANNEL, (row) => live.onRow(row));
  feed.subscribe(LOADTEST_CHANNEL, (p) => loadtest.onProgress(p));

  const showTab = () => {
    const tab = (location.hash || '#live').slice(1);
    const known = ['live', 'console', 'loadtest'].includes(tab) ? tab : 'live';
    for (const v of document.querySelectorAll('[data-view]')) v.hidden = v.id !== known;
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.tab === known);
    console_.show(known === 'console');
    void loadtest.show(known === 'loadtest');
  };
  window.addEventListener('hashchange', showTab);
  showTab();
}

// uPlot is a classic deferred script; modules run after deferred scripts, so it is loaded here.
start();
