"""The scratchnn Playground: a local web app where scratchnn trains and the page watches."""
