import { ProjectList } from "./components/ProjectList";

export default function HomePage() {
  return <ProjectList />;
}
