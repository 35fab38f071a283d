/** The dashboard's front end: four pages under the mount path, routed in the browser. */
import { render } from 'preact';
import { LocationProvider, Route, Router } from 'preact-iso';
import { config } from './config';
import { FlowPage } from './pages/Flow';
import { NotFound } from './pages/NotFound';
import { Overview } from './pages/Overview';
import { RunPage } from './pages/Run';
import { RunsPage } from './pages/Runs';
import './styles.css';

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
