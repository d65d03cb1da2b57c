"""Only here to declare the optional C speed-up; everything else lives in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("litefix._native", ["litefix/_native.c"], optional=True, extra_compile_args=["-O3"], libraries=["dl"])
    ]
)
