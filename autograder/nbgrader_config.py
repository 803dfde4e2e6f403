"""nbgrader configuration of the course (docs/grading.md).

`genlab release`, `genlab grade` and JupyterLab's Formgrader read this file. Paths are
relative to the repository root, the parent of this folder.
"""
import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
c.CourseDirectory.course_id = "genlab"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"

# Per-cell limit while autograding; the `ci` profile keeps every cell far below it.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# Students see this where an answer goes; Run All stops here with a clear message.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("Write your answer here, replacing this line.")',
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A submission that deleted a test cell gets it back from the gradebook.
c.OverwriteCells.add_missing_cells = True

c.Exchange.root = os.path.join(c.CourseDirectory.root, "build", "exchange")
