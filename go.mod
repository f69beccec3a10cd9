module github.com/cms-exporter/cms_exporter

go 1.26.8
