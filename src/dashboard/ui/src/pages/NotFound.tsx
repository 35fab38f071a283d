/** Any other address below the dashboard. */
import { useLocation } from 'preact-iso';
import { Layout, Problem } from '../components/Layout';
import { href } from '../config';

export function NotFound() {
  const { path } = useLocation();
  return (
    <Layout title="Not found">
      <Problem status={404} message={`There is no page ${path}.`} />
      <p>
        <a href={href('/')}>Go to the overview</a>
      </p>
    </Layout>
  );
}
