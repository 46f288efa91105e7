(define-module (instar repl)
  #:use-module (instar core))
