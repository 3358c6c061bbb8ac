import { requirePageToken } from "./lib/page-auth";
import { ProjectList } from "./components/ProjectList";

export default async function HomePage() {
  await requirePageToken("/");
  return <ProjectList />;
}
