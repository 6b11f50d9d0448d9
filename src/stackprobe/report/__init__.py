"""Reports, generated from check records only: terminal, Markdown, JSON, JUnit and SARIF."""
