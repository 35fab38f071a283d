/**
 * The dashboard's front end: four pages under the mount path, routed in the
 * browser. The flow and run pages, which lay out graphs, load on demand.
 */
import { render } from 'preact';
import { LocationProvider, Route, Router, lazy } from 'preact-iso';
import { config } from './config';
import { NotFound } from './pages/NotFound';
import { Overview } from './pages/Overview';
import { RunsPage } from './pages/Runs';
import './styles.css';

// The pages that draw the graph load the layout library (dagre) on first use.
const FlowPage = lazy(() => import('./pages/Flow').then((page) => page.FlowPage));
const RunPage = lazy(() => import('./pages/Run').then((page) => page.RunPage));

const base = config.basePath;

function App() {
  return (
    <LocationProvider scope={base || undefined}>
      <Router>
        <Route path={`${base}/`} component={Overview} />
        {base ? <Route path={base} component={Overview} /> : <></>}
        <Route path={`${base}/flows/:slug`} component={FlowPage} />
        <Route path={`${base}/runs`} component={RunsPage} />
        <Route path={`${base}/runs/:id`} component={RunPage} />
        <Route default component={NotFound} />
      </Router>
    </LocationProvider>
  );
}

render(<App />, document.getElementById('app')!);
